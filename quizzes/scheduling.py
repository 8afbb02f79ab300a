"""Spaced repetition: when a question a learner has answered comes back (FSRS).

The ``fsrs`` package decides; this module only fixes its configuration and converts
between its ``Card`` and our ``ReviewCard`` rows.

Choices, and why:

* **No learning steps.** Anki-style steps bring a card back after 1 and 10 minutes.
  Here a quiz already shows the explanation at once and offers "retry the missed
  questions", so a question's first answer goes straight to a schedule in days: a
  miss comes back tomorrow, a right answer in a few days, and the gaps grow.
* **No fuzz.** FSRS spreads due dates by a random day or two using the global
  ``random`` module; with a question bank of under a hundred cards clumping matters
  little, and predictable dates make the schedule explainable and testable.
* **The clock is a parameter.** Every function takes ``now``; nothing here reads the
  time, so tests pass a fixed instant instead of patching ``datetime``.
"""

from __future__ import annotations

from datetime import datetime, timezone

from fsrs import Card, Rating, Scheduler, State

SCHEDULER = Scheduler(
    desired_retention=0.9,
    learning_steps=(),
    relearning_steps=(),
    maximum_interval=365,  # an interview is months away at most
    enable_fuzzing=False,
)

# How a learner grades their own free-text answer, as FSRS ratings.
SELF_GRADES: list[tuple[Rating, str, str]] = [
    (Rating.Again, "Missed it", "I missed the key points."),
    (Rating.Hard, "Partly", "I had some of it, with gaps."),
    (Rating.Good, "Got it", "I had the key points."),
    (Rating.Easy, "Nailed it", "All of it, and I could take the follow-up too."),
]


def utc(moment: datetime) -> datetime:
    """FSRS insists on ``datetime.timezone.utc`` itself, not merely a UTC offset."""
    if moment.tzinfo is None:
        raise ValueError("FSRS needs an aware datetime")
    return moment.astimezone(timezone.utc)


def rating_for_choice(correct: bool) -> Rating:
    """A graded multiple-choice answer: right is Good, wrong is Again."""
    return Rating.Good if correct else Rating.Again


def counts_as_correct(rating: Rating) -> bool:
    """For quiz scores and retries: "Partly" is retried, though FSRS counts it recalled."""
    return rating >= Rating.Good


def new_card(card_id: int, now: datetime) -> Card:
    # card_id and due are given so that fsrs neither sleeps nor reads the clock.
    return Card(card_id=card_id, state=State.Learning, due=utc(now))


def review(card: Card, rating: Rating, now: datetime) -> Card:
    reviewed, _log = SCHEDULER.review_card(card, rating, review_datetime=utc(now))
    return reviewed


def retrievability(card: Card, now: datetime) -> float:
    """Probability (0-1) that the learner would answer right at ``now``; 0 if never seen."""
    return float(SCHEDULER.get_card_retrievability(card, current_datetime=utc(now)))
