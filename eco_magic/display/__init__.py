"""Renderers for EcoResult: plain text, escaped HTML, matplotlib figures and the ipywidgets card."""
