"""Views of the teach app, one module per part of the instructor's pages:
classes (list, create, the class page and its settings), join (the learner side),
learners (the drill-down), exports (CSV); analysis and live belong to their own
modules. Every instructor view reaches its class through ``teach.access``."""
