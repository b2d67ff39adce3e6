from deezer_tags.cli import main

raise SystemExit(main())
