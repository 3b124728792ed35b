"""The scheduler process: find what changed, snapshot it, render, store and export the feeds."""
