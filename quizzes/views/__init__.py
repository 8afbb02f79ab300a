"""HTTP views of the quizzes app, one module per part of the site."""
