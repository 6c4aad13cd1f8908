"""RedGrape (federated long-tailed learning with gradient prototypes) and its baselines."""
