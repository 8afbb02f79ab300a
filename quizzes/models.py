"""Database models of the quizzes app. None yet: lessons and quizzes come next."""
