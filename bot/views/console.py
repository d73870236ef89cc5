"""The operator's console: /stats, and /broadcast from draft to report, plus the
announcement as users get it."""

from __future__ import annotations

from bot import keyboards
from bot.i18n import Translator
from bot.services.admin import ReplicaLeases, Stats
from bot.services.models import Tally
from bot.views.common import Screen, esc


def announcement(t: Translator, text: str) -> Screen:
    """An operator's announcement as users get it: their HTML, and a Mute button in the
    recipient's language. Not aligned: like an SMS, the operator's words keep their own
    direction."""
    return Screen(text, keyboards.announcement(t))


def _ms(t: Translator, seconds: float | None) -> str:
    # TRANSLATORS: a code-to-chat latency in milliseconds, e.g. "1,250 ms".
    return "—" if seconds is None else t._("{ms} ms").format(ms=t.number(round(seconds * 1000)))


def _replica_line(t: Translator, replica: ReplicaLeases) -> str:
    jobs = ", ".join(job.removeprefix("job:") for job in replica.jobs)
    line = t._("<code>{replica}</code>: polls {keys} keys, serving {users} users").format(
        replica=esc(replica.replica_id),
        keys=t.number(replica.polls),
        users=t.number(replica.serving),
    )
    if jobs:
        line += " · " + t._("jobs: {jobs}").format(jobs=esc(jobs))
    if replica.this_one:
        line += " " + t._("(this one)")
    return "• " + line


def stats(t: Translator, figures: Stats) -> Screen:
    """The operator's /stats: the fleet's figures, last 24 h where a window applies."""
    users = figures.users
    lines = [
        t._("<b>Statistics</b> (last 24 h, whole fleet)"),
        "",
        t._(
            "Users: {total} · linked key {linked} · active {active} · blocked the bot {blocked}"
        ).format(
            total=t.number(users.total),
            linked=t.number(users.linked),
            active=t.number(users.active),
            blocked=t.number(users.blocked),
        ),
        t._("Active orders: {orders} · pending deliveries: {pending}").format(
            orders=t.number(figures.active_orders), pending=t.number(figures.pending_deliveries)
        ),
        t._("Orders bought: {orders} · codes delivered: {codes}").format(
            orders=t.number(figures.orders_bought), codes=t.number(figures.codes_delivered)
        ),
        t._("Code to chat: median {median} · p95 {p95}").format(
            median=_ms(t, figures.latency_median), p95=_ms(t, figures.latency_p95)
        ),
        t._("jiema errors: {errors} · 429s: {limited} · Telegram errors: {telegram}").format(
            errors=t.number(figures.jiema_errors),
            limited=t.number(figures.jiema_rate_limited),
            telegram=t.number(figures.telegram_errors),
        ),
        "",
        t._("Replicas and their leases:"),
        *(_replica_line(t, replica) for replica in figures.replicas),
        "",
        t._("Updated {time}").format(time=esc(t.datetime(figures.at))),
    ]
    if not figures.replicas:
        lines.insert(-2, "• " + t._("none alive"))
    return Screen(t.align("\n".join(lines)), keyboards.stats(t))


def broadcast_ask(t: Translator) -> Screen:
    text = t._(
        "Send me the announcement. You can use Telegram HTML: &lt;b&gt;bold&lt;/b&gt;, "
        '&lt;i&gt;italic&lt;/i&gt;, &lt;a href="https://…"&gt;links&lt;/a&gt;. '
        "I'll show you a preview first. /cancel to stop."
    )
    return Screen(t.align(text))


def broadcast_invalid(t: Translator, description: str) -> Screen:
    """Telegram refused the preview: nothing was sent to anyone."""
    text = t._(
        "Telegram refused this text: {reason}\nNothing was sent. Fix it and send it again, "
        "or /cancel."
    ).format(reason=esc(description))
    return Screen(t.align(text))


def broadcast_confirm(t: Translator, broadcast_id: str, recipients: int) -> Screen:
    """Under the preview: who gets it, and Send / Cancel."""
    text = t.ngettext(
        "Above is the preview. Send it to {count} user?",
        "Above is the preview. Send it to {count} users?",
        recipients,
    ).format(count=t.number(recipients))
    return Screen(t.align(text), keyboards.broadcast_confirm(t, broadcast_id))


def broadcast_progress(t: Translator, broadcast_id: str, tally: Tally) -> Screen:
    """The progress message, edited in place while the broadcast runs (with Cancel)."""
    head = t._("Sending the announcement: {done} of {total}.").format(
        done=t.number(tally.done), total=t.number(tally.total)
    )
    return Screen(
        t.align(f"{head}\n{_tally_line(t, tally)}"), keyboards.broadcast_running(t, broadcast_id)
    )


def _tally_line(t: Translator, tally: Tally) -> str:
    line = t._("Sent: {sent} · blocked: {blocked} · failed: {failed}").format(
        sent=t.number(tally.sent),
        blocked=t.number(tally.blocked),
        failed=t.number(tally.failed + tally.unknown),
    )
    if tally.skipped:
        line += " · " + t._("muted meanwhile: {skipped}").format(skipped=t.number(tally.skipped))
    return line


def broadcast_report(t: Translator, tally: Tally, *, cancelled: bool) -> Screen:
    """The final report (a new message, so the operator is notified)."""
    if cancelled:
        head = t._("Broadcast cancelled; {left} users did not get it.").format(
            left=t.number(tally.pending + tally.claimed)
        )
    else:
        head = t._("Broadcast finished.")
    lines = [head, _tally_line(t, tally)]
    if tally.unknown:
        lines.append(
            t._(
                "{unknown} of the failed were being sent when the bot stopped: they may have "
                "it; they were not sent it again."
            ).format(unknown=t.number(tally.unknown))
        )
    return Screen(t.align("\n".join(lines)))


def broadcast_progress_final(t: Translator, tally: Tally, *, cancelled: bool) -> Screen:
    """The progress message once the broadcast is over (no buttons left)."""
    head = t._("Announcement cancelled.") if cancelled else t._("Announcement sent.")
    return Screen(t.align(head + "\n" + _tally_line(t, tally)))


def broadcast_dropped(t: Translator) -> Screen:
    return Screen(t.align(t._("Dropped: nothing was sent.")))


def broadcast_stopping(t: Translator) -> Screen:
    return Screen(t.align(t._("Stopping the broadcast… the report follows.")))
