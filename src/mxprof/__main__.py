from mxprof.cli import main

raise SystemExit(main())
