"""Text from data drawn into a figure: shown as written, never parsed as markup.

Matplotlib reads a pair of `$` in any title, label or legend entry as TeX (mathtext): a volcano named
`$\\alpha$` would be typeset, and an unbalanced one (`Mount $`) crashes the figure. Every piece of text that
comes from data (volcano, frame and run names, pair ids, annotation labels) goes through :func:`plain`
before it reaches a figure; text the code writes itself needs nothing.
"""

from __future__ import annotations


def plain(text: object) -> str:
    """`text` as matplotlib draws it literally: every `$` escaped (with usetex off, the platform's setting)."""
    return str(text).replace("$", r"\$")
