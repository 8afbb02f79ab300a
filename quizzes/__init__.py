"""The quizzes app: learning path, lessons, interview questions, quizzes, progress."""
