"""What an operator does and sees: accounts, keys, prices and webhooks by resource, the admin token and sessions,
routes' health, samples, `doctor`."""
