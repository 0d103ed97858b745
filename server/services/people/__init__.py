"""People and devices: users, sign-in, sessions, rate limits, enrolment."""
