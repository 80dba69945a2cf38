"""lab.cpu: the extensions a run record names, and the environment of a kernel that stands in for another CPU."""
import pytest

from lab import cpu

AVX2_ONLY = "model name\t: AMD EPYC\nflags\t\t: fpu sse2 avx avx2 fma\n"
AVX512 = "model name\t: AMD EPYC\nflags\t\t: avx avx2 avx512f avx512bw avx512_bf16\n"
AMX = "model name\t: Intel(R) Xeon(R) Processor\nflags\t\t: avx2 avx512f avx512_bf16 avx512_fp16 amx_bf16 amx_tile\n"


def test_extensions_and_isa_tell_the_three_cpus_apart():
    assert cpu.extensions(AVX2_ONLY) == ["avx2"] and cpu.isa(AVX2_ONLY) == "avx2"
    assert cpu.extensions(AVX512) == ["avx2", "avx512f", "avx512_bf16"] and cpu.isa(AVX512) == "avx512"
    assert cpu.isa(AMX) == "amx" and "amx_tile" in cpu.extensions(AMX)
    assert cpu.model_name(AVX512) == "AMD EPYC"
    assert cpu.isa("") == "other"


def test_kernel_environment_sets_threads_and_restricts_or_frees_the_kernels():
    env = cpu.kernel_environment(1, "avx2")
    assert env["OMP_NUM_THREADS"] == env["MKL_NUM_THREADS"] == "1"
    assert env["ATEN_CPU_CAPABILITY"] == "avx2" and env["MKL_ENABLE_INSTRUCTIONS"] == "AVX2"
    assert all(v == "" for k, v in cpu.kernel_environment(2).items() if k in cpu.AVX2_ONLY)
    with pytest.raises(ValueError):
        cpu.kernel_environment(2, "avx512")


def test_apply_sets_unsets_and_restores():
    target = {"ATEN_CPU_CAPABILITY": "avx512", "KEEP": "1"}
    previous = cpu.apply(cpu.kernel_environment(2, "avx2"), target)
    assert target["ATEN_CPU_CAPABILITY"] == "avx2" and target["OMP_NUM_THREADS"] == "2"
    cpu.apply(previous, target)
    assert target == {"ATEN_CPU_CAPABILITY": "avx512", "KEEP": "1"}


def test_stamp_adds_the_isa_and_extensions_to_a_run_record_and_keeps_the_rest(tmp_path):
    import json

    path = tmp_path / "page.ipynb"
    path.write_text(json.dumps({"cells": [], "metadata": {"lab": {"device": {"cpu": "X", "torch_threads": 2}}}}))
    cpu.stamp(path)
    device = json.loads(path.read_text())["metadata"]["lab"]["device"]
    assert device == {"cpu": "X", "torch_threads": 2, "isa": cpu.isa(), "extensions": cpu.extensions()}
