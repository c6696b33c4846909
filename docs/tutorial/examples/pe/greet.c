/* A one-function DLL used by the tutorial and tests/test_pe_imports.py. */
__declspec(dllexport) int greet(int x) { return x + 1; }
