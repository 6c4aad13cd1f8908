"""Engines that run the same client/server functions: in-process simulator and Flower."""
