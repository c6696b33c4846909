"""Maintainer helpers for the recipes (Linux side): render, fetch, patch, build."""
