"""Type stubs for the native core (mxprof._core). Hand-written: keep in step with csrc/."""

# ---- CPU and NUMA binding (csrc/cpu.cpp) ----------------------------------------------------
# Twins: mxprof.cpulist.parse_cpu_list_py/format_cpu_list_py; os.sched_{set,get}affinity.
# set_mempolicy/get_mempolicy have no Python twin (the standard library has no such call).

MPOL_DEFAULT: int
MPOL_PREFERRED: int
MPOL_BIND: int
MPOL_INTERLEAVE: int
MPOL_LOCAL: int
MPOL_MODE_FLAGS: int  # flags the kernel may OR into the mode get_mempolicy returns

def parse_cpu_list(text: str) -> list[int]: ...
def format_cpu_list(cpus: list[int]) -> str: ...
def sched_setaffinity(cpus: list[int], pid: int = 0) -> None: ...  # OSError(errno) on refusal
def sched_getaffinity(pid: int = 0) -> list[int]: ...
def set_mempolicy(mode: int, nodes: list[int]) -> int: ...  # 0 or the errno, never raises for it
def get_mempolicy() -> tuple[int, int, list[int]]: ...  # (errno, mode, nodes) of calling thread
