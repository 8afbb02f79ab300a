"""HTTP views of the sandbox app.

None yet: the sandbox page arrives with the sandbox manager. The site-wide pages
(home, /healthz) live in memorydb_lab.views because they belong to no single app.
"""
