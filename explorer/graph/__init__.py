"""Graphs: a Trace drawn at four levels (stages, blocks, layers; torchview's ops), rendered by Graphviz, exported."""
