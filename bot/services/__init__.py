"""Use cases of the bot, free of Telegram: handlers and the poller call these."""
