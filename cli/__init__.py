"""The commands of `hmc`, the top layer: each parses its flags, resolves its configuration, calls one
stage function and prints what a person needs to see. No logic of a stage lives here (docs/design.md)."""
