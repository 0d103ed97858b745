"""Deliberation (协商议事, 五议) and 阳光五务 notices."""
