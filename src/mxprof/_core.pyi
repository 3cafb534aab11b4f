"""Type stubs for the native core (mxprof._core). Hand-written: keep in step with csrc/."""
