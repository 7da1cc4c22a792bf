"""Business days: Chinese public holidays, make-up workdays, administrator overrides, deadline maths."""
