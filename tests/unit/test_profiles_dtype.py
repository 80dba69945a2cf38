"""No profile hard-codes bfloat16 on the CPU: on an AVX2-only CPU a bfloat16 product runs hundreds of times slower
than float32, so a CPU run asks for "auto" (lab.cpu.choose_dtype measures) or float32."""
import yaml

from lab.paths import NOTEBOOKS

BF16 = {"bfloat16", "bf16"}
DTYPE_KEYS = ("dtype", "precision", "autocast")


def bf16_on_cpu(profiles: dict) -> list[str]:
    return [f"{name}.{key}" for name, entries in profiles.items() for key in DTYPE_KEYS
            if str((entries or {}).get(key)) in BF16 and (entries or {}).get("device") != "cuda"]


def test_no_profile_asks_for_bfloat16_without_cuda():
    found = {path.stem: bad for path in sorted((NOTEBOOKS / "params").glob("*.yml"))
             if (bad := bf16_on_cpu(yaml.safe_load(path.read_text()) or {}))}
    assert not found


def test_the_check_sees_a_cpu_profile_that_does():
    assert bf16_on_cpu({"cpu": {"autocast": "bfloat16"}, "gpu": {"dtype": "bfloat16", "device": "cuda"}}) == ["cpu.autocast"]
