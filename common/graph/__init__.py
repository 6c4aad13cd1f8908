"""Graph learning shared by MADGap and ReNode: the GNN zoo and graph datasets."""
