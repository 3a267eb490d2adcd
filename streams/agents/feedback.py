"""The feedback agent: moves micro-batches of raw feedback records into the pipeline.

It takes batches without acknowledging them (``noack_take``, Faust's ``take`` with manual
acks): a record is acknowledged only once the checkpoint that trained it is durable, or
once it is dead-lettered. All logic, and every exception, is the pipeline's; an exception
escaping here would crash the agent and Faust would ack the batch, so the agent lets the
worker die instead (a restart replays from the last checkpoint).
"""

from __future__ import annotations

import logging
from typing import Any

import faust

from schemas import DeadLetter, Settings
from streams._pipeline import FeedbackPipeline, Record

log = logging.getLogger(__name__)

#: How often pending joins are retried and the time-based checkpoint checked.
TICK_S = 0.5


def _record(stream: Any, event: Any) -> Record:
    msg = event.message

    async def ack() -> object:
        return await stream.ack(event)

    return Record(msg.topic, msg.partition, msg.offset, msg.key, msg.value, ack)


def register_feedback_agent(app: faust.App, settings: Settings, pipeline: FeedbackPipeline) -> Any:
    """Register the feedback agent, the dead-letter sender and the pipeline's timer on ``app``."""
    feedback = app.topic(
        settings.topics.feedback,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
    )
    dead = app.topic(
        settings.topics.dead_letter,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
    )

    async def send_dead_letter(key: bytes | None, letter: DeadLetter) -> None:
        sent = await dead.send(key=key, value=letter.to_bytes())
        await sent  # delivered before the record it replaces is acknowledged

    pipeline.send_dead_letter = send_dead_letter
    outputs: dict[str, Any] = {}

    async def send_raw(topic: str, key: bytes | None, value: bytes) -> None:
        if topic not in outputs:
            outputs[topic] = app.topic(
                topic, key_type=bytes, value_type=bytes, key_serializer="raw",
                value_serializer="raw",
            )  # fmt: skip
        sent = await outputs[topic].send(key=key, value=value)
        await sent

    if pipeline.lifecycle is not None:
        pipeline.lifecycle.send = send_raw

    async def feedback_agent(stream: Any) -> None:
        try:
            await pipeline.start()
            within = settings.worker_max_wait_ms / 1000
            async for events in stream.noack_take(settings.worker_max_batch, within=within):
                await pipeline.handle([_record(stream, e) for e in events])
        except Exception as exc:
            # Redis or the learner failed: nothing is acked past the last checkpoint, so
            # stopping the worker loses nothing; a restart replays.
            log.exception("feedback agent failed; stopping the worker")
            await app.crash(exc)
            raise

    async def tick() -> None:
        await pipeline.tick()

    app.timer(TICK_S, name="streamtune.worker.tick")(tick)
    return app.agent(feedback, name="streamtune.worker.feedback", concurrency=1)(feedback_agent)
