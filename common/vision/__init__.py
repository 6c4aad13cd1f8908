"""Shared vision zoo: CIFAR ResNets, a small CNN, and image datasets decoded once and cached."""
