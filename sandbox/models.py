"""Database models of the sandbox app.

None yet: the Sandbox row (owner, backend, ports, wanted and actual state) described
in DESIGN.md arrives with the sandbox manager.
"""
