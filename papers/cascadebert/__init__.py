"""CascadeBERT: calibrated cascades of complete models (Li et al., Findings of EMNLP 2021)."""
