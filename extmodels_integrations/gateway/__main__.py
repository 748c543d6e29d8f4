"""``python -m extmodels_integrations.gateway CONFIG... [options]``: run the gateway."""

from extmodels_integrations.gateway._cli import main

raise SystemExit(main())
