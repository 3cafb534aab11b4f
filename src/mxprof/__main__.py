from mxprof.cli import main

# Guarded: `compare --cluster local` starts Dask workers with multiprocessing's spawn method,
# which imports the parent's main module (this one, as __mp_main__) in every child.
if __name__ == "__main__":
    raise SystemExit(main())
