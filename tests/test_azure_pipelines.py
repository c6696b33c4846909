"""ci/azure-pipelines.yml: parsed, and checked against the structure Azure Pipelines accepts.

We cannot run Azure here; these checks follow the YAML schema reference
(learn.microsoft.com/azure/devops/pipelines/yaml-schema: pipeline, stages.stage, jobs.job,
steps.*, pool) for the keys this pipeline uses, and our own rules: hosted jobs on
windows-2022 that each fit the free tier's 60-minute limit for private projects (Microsoft
Learn, "Configure and pay for parallel jobs") with the package cache kept by Cache@2, the GPU
job only for a named self-hosted pool, the secret mapped into exactly one step that runs on
tags only and never echoed, every referenced script and option real.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
PIPELINE = REPO / "ci" / "azure-pipelines.yml"
DOC = yaml.safe_load(PIPELINE.read_text())

PIPELINE_KEYS = {"trigger", "pr", "parameters", "variables", "stages", "name", "resources"}
STAGE_KEYS = {"stage", "displayName", "dependsOn", "condition", "variables", "jobs"}
JOB_KEYS = {
    "job",
    "displayName",
    "dependsOn",
    "condition",
    "pool",
    "timeoutInMinutes",
    "variables",
    "steps",
    "continueOnError",
}
STEP_KINDS = {"script", "bash", "pwsh", "powershell", "task", "checkout", "download", "publish"}
STEP_KEYS = {
    "displayName",
    "name",
    "condition",
    "continueOnError",
    "enabled",
    "env",
    "timeoutInMinutes",
    "workingDirectory",
    "inputs",
    "failOnStderr",
}
IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
TEMPLATE_IF = re.compile(r"^\$\{\{ *if .*\}\}$")
TAGS_ONLY = "startsWith(variables['Build.SourceBranch'], 'refs/tags/')"


def jobs() -> list[dict]:
    """All jobs, with compile-time ``${{ if }}`` insertions flattened."""
    out = []
    for stage in DOC["stages"]:
        for item in stage["jobs"]:
            if "job" in item:
                out.append(item)
            else:
                ((key, inserted),) = item.items()
                assert TEMPLATE_IF.match(key), key
                out.extend(inserted)
    return out


def steps() -> list[dict]:
    return [s for j in jobs() for s in j["steps"]]


def test_top_level_structure():
    assert set(DOC) <= PIPELINE_KEYS
    assert DOC["trigger"]["tags"]["include"] == ["v*"]
    for p in DOC["parameters"]:
        assert {"name", "type", "default"} <= set(p)
        if "values" in p:
            assert p["default"] in p["values"]
    for stage in DOC["stages"]:
        assert set(stage) <= STAGE_KEYS and IDENT.match(stage["stage"])
        assert stage["jobs"]


def test_jobs_and_pools():
    names = [j["job"] for j in jobs()]
    assert names == ["build", "env_cpu", "upload", "windows_gpu"]
    for j in jobs():
        assert set(j) <= JOB_KEYS and IDENT.match(j["job"])
        assert isinstance(j["timeoutInMinutes"], int)
        assert j["steps"][0] == {"checkout": "self"}
    build, env_cpu, upload, gpu = jobs()
    for hosted in (build, env_cpu, upload):
        assert hosted["pool"] == {"vmImage": "windows-2022"}
        assert hosted["timeoutInMinutes"] <= 60, "a free private project's hosted job limit"
    assert env_cpu["dependsOn"] == "build" and upload["dependsOn"] == ["build", "env_cpu"]
    assert TAGS_ONLY in upload["condition"]
    assert gpu["pool"] == {"name": "${{ parameters.gpuPool }}"}
    assert gpu["dependsOn"] == "build"
    gpu_param = next(p for p in DOC["parameters"] if p["name"] == "gpuPool")
    assert gpu_param["default"] == ""  # the job is only inserted when a pool is named
    item = next(i for i in DOC["stages"][0]["jobs"] if "job" not in i)
    assert next(iter(item)) == "${{ if ne(parameters.gpuPool, '') }}"


def test_steps_have_exactly_one_kind():
    for s in steps():
        kinds = set(s) & STEP_KINDS
        assert len(kinds) == 1, s
        assert set(s) - kinds <= STEP_KEYS, s
        if "inputs" in s:
            assert "task" in s and re.match(r"^\w+@\d+$", s["task"])


def usage_options() -> set[str]:
    text = (REPO / "build_channel.cmd").read_text("ascii")
    usage = text[text.index(":usage") :]
    return set(re.findall(r"(--[a-z-]+)", usage))


def test_scripts_and_options_exist():
    known = usage_options()
    ran = []
    for s in steps():
        if "script" not in s:
            continue
        cmd = " ".join(s["script"].split())
        exe = cmd.split()[0]
        assert (REPO / exe.replace("\\", "/")).is_file(), exe
        if exe == "build_channel.cmd":
            opts = set(re.findall(r"(--[a-z-]+)", cmd))
            assert opts <= known, opts - known
            ran.append(cmd)
    assert any("--cuda cpu" in c for c in ran), "the hosted job builds in CPU mode"
    assert any("--env-only --cuda ${{ parameters.cuda }}" in c for c in ran)


def test_package_cache_is_kept_between_runs_of_each_hosted_job():
    pkgs = next(v["value"] for v in DOC["variables"] if v["name"] == "pkgsDir")
    script = (REPO / "build_channel.cmd").read_text("ascii")
    assert pkgs == "$(Build.SourcesDirectory)\\.cache\\p"
    assert 'set "CONDA_PKGS_DIRS=%CACHE%\\p"' in script, "the folder build_channel.cmd uses"
    for job in jobs()[:3]:
        (cache,) = [s for s in job["steps"] if s.get("task") == "Cache@2"]
        assert cache["inputs"]["path"] == "$(pkgsDir)"
        key, fallback = cache["inputs"]["key"], cache["inputs"]["restoreKeys"].strip()
        assert key.startswith('pkgs | "$(Agent.OS)" | ') and key.startswith(fallback + " | ")
        steps = job["steps"]
        assert steps.index(cache) < next(i for i, s in enumerate(steps) if "script" in s)


def test_channel_is_published_and_the_recipe_linter_runs():
    tasks = [s for s in jobs()[0]["steps"] if s.get("task") == "PublishPipelineArtifact@1"]
    assert {"targetPath": "channel", "artifact": "channel"} in [t["inputs"] for t in tasks]
    for job in (jobs()[1], jobs()[3]):
        download = next(s for s in job["steps"] if s.get("task") == "DownloadPipelineArtifact@2")
        assert download["inputs"] == {
            "artifact": "channel",
            "path": "$(Build.SourcesDirectory)\\channel",
        }
    assert any(s.get("script") == "ci\\lint_recipes.cmd" for s in steps())
    lint = (REPO / "ci" / "lint_recipes.cmd").read_text("ascii")
    assert "conda-smithy recipe-lint" in lint


def test_artifacts_published_always_are_named_per_attempt():
    """A second attempt of a job ("Rerun failed jobs") cannot publish an artifact name the
    first attempt used ("Artifact ... already exists"), so the logs carry the attempt number.
    """
    published = [s for s in steps() if s.get("task") == "PublishPipelineArtifact@1"]
    for step in published:
        name = step["inputs"]["artifact"]
        if step.get("condition") == "always()":
            assert name.endswith("-$(System.JobAttempt)"), name
    names = [s["inputs"]["artifact"] for s in published]
    assert len(names) == len(set(names)), names


@pytest.mark.parametrize("text", [PIPELINE.read_text()])
def test_secret_mapped_once_on_tags_and_never_echoed(text: str):
    users = [s for s in steps() if "ANACONDA_API_TOKEN" in str(s)]
    assert len(users) == 1
    (upload,) = users
    assert upload["env"] == {"ANACONDA_API_TOKEN": "$(ANACONDA_API_TOKEN)"}
    (job,) = [j for j in jobs() if upload in j["steps"]]
    assert TAGS_ONLY in upload.get("condition", job["condition"])
    assert "--upload" in upload["script"]
    assert "ANACONDA_API_TOKEN" not in upload["script"]
    for s in steps():
        body = str(s.get("script", ""))
        assert not re.search(r"(?i)echo.*(token|\$\(anaconda)", body)
    # Outside comments the secret's name appears exactly once: the env mapping.
    code = "\n".join(line.split("#")[0] for line in text.splitlines())
    assert code.count("ANACONDA_API_TOKEN") == 2  # key and $(value) on one line
