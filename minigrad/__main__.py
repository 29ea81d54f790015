from minigrad.cli import main

raise SystemExit(main())
