"""ReNode: topology-imbalance node classification (Chen et al., NeurIPS 2021, arXiv 2110.04099)."""
