"""One contract for the receipt index (event_id -> first receipt), per backend."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ledger import receipts as receipts_module
from ledger.errors import LedgerUnavailable
from ledger.log import PendingRecord, Receipt, from_millis
from ledger.postgres import PostgresLocation
from ledger.receipts import PostgresReceiptIndex, ReceiptIndex, SQLiteReceiptIndex
from tests.conftest import wait_for
from tests.receipt_sessions import end_session

TOPIC = "sgl.contract.receipts"


def receipt(partition: int = 1, offset: int = 0, event_id: str | None = None) -> Receipt:
    # Whole milliseconds: the resolution of a log's append time.
    appended_at = from_millis(time.time_ns() // 1_000_000)
    return Receipt(
        event_id or str(uuid.uuid4()),
        "accepted",
        partition,
        offset,
        appended_at,
        "ab" * 32,
        "CASE-RI-1",
        "contact.recorded",
        2,
    )


def record(event_id: str | None = None, digest: str = "ab" * 32) -> PendingRecord:
    return PendingRecord(
        event_id or str(uuid.uuid4()), "CASE-RI-1", b"{}", digest, "contact.recorded", 2
    )


def accepted(pending: PendingRecord, offset: int = 0) -> Receipt:
    return Receipt.accepted(pending, 1, offset, from_millis(time.time_ns() // 1_000_000))


class ReceiptIndexContract:
    """The receipt index contract; a subclass per backend supplies `storage` and
    `create_index`."""

    @pytest.fixture
    def storage(self) -> object:
        """Where the backend keeps the test's indexes."""
        raise NotImplementedError

    @pytest.fixture(autouse=True)
    def _closes_its_indexes(self, storage: object) -> Iterator[None]:
        self.place = storage
        self._open: list[ReceiptIndex] = []
        yield
        for index in self._open:
            index.close()

    def create_index(self) -> ReceiptIndex:
        """The backend's index on this test's storage (the same storage on each call)."""
        raise NotImplementedError

    def open_index(self) -> ReceiptIndex:
        index = self.create_index()
        self._open.append(index)
        return index

    def reopen(self, index: ReceiptIndex) -> ReceiptIndex:
        self._open.remove(index)
        index.close()
        return self.open_index()

    def test_a_receipt_put_is_found_as_duplicate_with_every_field(self) -> None:
        """get answers the whole receipt, status `duplicate`; an unknown id is absent."""
        index = self.open_index()
        kept = receipt()
        index.put([kept])
        found = index.get([kept.event_id, str(uuid.uuid4())])
        assert found == {kept.event_id: kept.as_duplicate()}

    def test_the_first_receipt_for_an_event_id_wins(self) -> None:
        """A later put for the same event_id, in the same call or another, changes nothing."""
        index = self.open_index()
        first = receipt(offset=1)
        index.put([first, receipt(offset=2, event_id=first.event_id)])
        index.put([receipt(offset=3, event_id=first.event_id)])
        assert index.get([first.event_id])[first.event_id].offset == 1
        index.flush()
        index.put([receipt(offset=4, event_id=first.event_id)])
        index.flush()
        assert index.get([first.event_id])[first.event_id].offset == 1

    def test_receipts_are_found_before_and_after_they_are_made_durable(self) -> None:
        """Whether still pending or flushed, the answer is the same."""
        index = self.open_index()
        kept = [receipt(offset=i) for i in range(3)]
        index.put(kept)
        pending = index.get([r.event_id for r in kept])
        index.flush()
        assert index.get([r.event_id for r in kept]) == pending

    def test_receipts_outlive_a_restart(self) -> None:
        """Closed and opened again on the same storage, the index answers as before."""
        index = self.open_index()
        kept = [receipt(partition=p, offset=p * 10) for p in range(3)]
        index.put(kept)
        index = self.reopen(index)
        assert index.get([r.event_id for r in kept]) == {r.event_id: r.as_duplicate() for r in kept}

    def test_a_large_look_up_finds_every_receipt(self) -> None:
        """Thousands of ids in one get (past any statement's parameter limit) are all found."""
        index = self.open_index()
        kept = [receipt(offset=i) for i in range(5000)]
        index.put(kept)
        index.flush()
        wanted = [r.event_id for r in kept] + [str(uuid.uuid4()) for _ in range(100)]
        assert len(index.get(wanted)) == 5000
        assert index.get([]) == {}

    def test_event_ids_never_claimed_are_granted(self) -> None:
        """A first claim grants every event_id, once each, finding no receipt."""
        index = self.open_index()
        records = [record(), record()]
        claims = index.claim([*records, records[0]], {0: 3})
        assert sorted(claims.granted) == sorted(r.event_id for r in records)
        assert (claims.known, claims.held, claims.conflicts, claims.orphaned) == ({}, [], [], {})

    def test_a_released_claim_leaves_no_receipt_and_is_granted_again(self) -> None:
        """Released (the append certainly failed), the event_id is unknown and claimable."""
        index = self.open_index()
        pending = record()
        index.claim([pending], {})
        index.release([pending.event_id])
        assert index.get([pending.event_id]) == {}
        assert index.claim([pending], {}).granted == [pending.event_id]

    def test_waiting_for_a_receipt_put_answers_it(self) -> None:
        """wait answers the receipts once they are put, as `duplicate`."""
        index = self.open_index()
        pending = record()
        index.claim([pending], {})
        kept = accepted(pending)
        index.put([kept])
        found = index.wait([pending.event_id], time.monotonic() + 5)
        assert found == {pending.event_id: kept.as_duplicate()}


class TestSQLiteReceiptIndex(ReceiptIndexContract):
    """The contract on the SQLite file index that the Kafka log keeps."""

    @pytest.fixture
    def storage(self, tmp_path: Path) -> object:
        return tmp_path

    def create_index(self) -> SQLiteReceiptIndex:
        assert isinstance(self.place, Path)
        return SQLiteReceiptIndex(self.place / "receipts.sqlite")

    def test_receipts_in_many_segments_are_found_first_wins_after_a_restart(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """With segments of 10 receipts and a filter that must grow, every receipt is found
        (also after reopening, the filter rebuilt), and a later receipt for an event_id in an
        older segment does not replace the first."""
        monkeypatch.setattr(receipts_module, "SEGMENT_ROWS", 10)
        monkeypatch.setattr(receipts_module, "FILTER_MIN_BITS", 256)
        index = self.open_index()
        kept = [receipt(offset=i) for i in range(55)]
        for at in range(0, 55, 5):
            index.put(kept[at : at + 5])
            index.flush()
        index.put([receipt(offset=999, event_id=kept[0].event_id)])
        index.flush()
        assert isinstance(index, SQLiteReceiptIndex)
        assert len(index._segments) == 6
        wanted = {r.event_id: r.as_duplicate() for r in kept}
        assert index.get([*wanted, str(uuid.uuid4())]) == wanted
        assert self.reopen(index).get(list(wanted)) == wanted

    def test_a_record_kept_unsure_again_keeps_its_raised_floor(self) -> None:
        """Kept again after the log was read further without finding it, a record's floor is
        the raised one when the index is next opened."""
        index = self.open_index()
        pending = record()
        index.keep_unsure([(pending, {0: 5, 1: 2})])
        index.keep_unsure([(pending, {0: 40, 1: 2})])
        assert self.reopen(index).unsure() == [(pending, {0: 40, 1: 2})]


class TestPostgresReceiptIndex(ReceiptIndexContract):
    """The contract on the PostgreSQL index that API processes share; each index opened is
    another process's session on the same table."""

    @pytest.fixture
    def storage(self, postgres: PostgresLocation, monkeypatch: pytest.MonkeyPatch) -> object:
        # No producer here: a claim whose session ended has nothing in flight.
        monkeypatch.setattr(receipts_module, "TAKEOVER_MARGIN", 0.0)
        return postgres

    def create_index(self, in_flight: float = 0.0) -> PostgresReceiptIndex:
        assert isinstance(self.place, PostgresLocation)
        return PostgresReceiptIndex.open(self.place, TOPIC, in_flight=in_flight)

    def test_a_claim_held_by_another_process_is_waited_for(self) -> None:
        """The second process is not granted the event_id: it waits for the first's receipt."""
        first, second = self.open_index(), self.open_index()
        pending = record()
        assert first.claim([pending], {}).granted == [pending.event_id]
        claims = second.claim([pending], {})
        assert (claims.granted, claims.held) == ([], [pending.event_id])
        kept = accepted(pending, offset=7)
        first.put([kept])
        found = second.wait([pending.event_id], time.monotonic() + 5)
        assert found == {pending.event_id: kept.as_duplicate()}

    def test_other_content_under_a_claimed_or_appended_event_id_is_a_conflict(self) -> None:
        """Claimed or already appended elsewhere with another digest: a conflict, not granted."""
        first, second = self.open_index(), self.open_index()
        claimed, appended = record(), record()
        first.claim([claimed, appended], {})
        first.put([accepted(appended)])
        first.flush()
        claims = second.claim(
            [record(claimed.event_id, "cd" * 32), record(appended.event_id, "cd" * 32)], {}
        )
        assert sorted(claims.conflicts) == sorted([claimed.event_id, appended.event_id])
        assert claims.granted == []

    def test_a_receipt_made_elsewhere_is_known_to_a_claim(self) -> None:
        """An event_id another process has appended is answered with its receipt."""
        first, second = self.open_index(), self.open_index()
        pending = record()
        first.claim([pending], {})
        kept = accepted(pending, offset=3)
        first.put([kept])
        first.flush()
        claims = second.claim([pending], {})
        assert claims.known == {pending.event_id: kept.as_duplicate()}
        assert claims.granted == []

    def test_a_waiter_is_told_when_the_claim_is_given_up_and_may_then_claim(self) -> None:
        """A claim released by its owner ends the wait with LedgerUnavailable; a retry wins."""
        first, second = self.open_index(), self.open_index()
        pending = record()
        first.claim([pending], {})
        second.claim([pending], {})
        first.release([pending.event_id])
        with pytest.raises(LedgerUnavailable, match="gave up"):
            second.wait([pending.event_id], time.monotonic() + 5)
        assert second.claim([pending], {}).granted == [pending.event_id]

    def test_a_wait_past_its_deadline_is_unavailable(self) -> None:
        """A live claim whose receipt does not come in time: LedgerUnavailable, not forever."""
        first, second = self.open_index(), self.open_index()
        pending = record()
        first.claim([pending], {})
        second.claim([pending], {})
        with pytest.raises(LedgerUnavailable, match="in time"):
            second.wait([pending.event_id], time.monotonic() + 0.2)

    def test_the_claim_of_a_process_gone_is_taken_over_once_with_its_floor(self) -> None:
        """A dead owner's claim blocks nobody: the next claimant takes it over, told the floor
        below which the record cannot be; a third process is told to retry (not to wait)
        while it is settled, and is granted it once it was not found on the log."""
        first, second, third = self.open_index(), self.open_index(), self.open_index()
        pending = record()
        first.claim([pending], {0: 5, 2: 9})
        self._open.remove(first)
        assert isinstance(first, PostgresReceiptIndex)
        end_session(first, close=True)
        claims = second.claim([pending], {})
        assert claims.orphaned == {pending.event_id: {0: 5, 2: 9}}
        assert claims.granted == []
        assert third.claim([pending], {}).busy == [pending.event_id]
        with pytest.raises(LedgerUnavailable, match="checked against the log"):
            third.wait([pending.event_id], time.monotonic() + 5)
        second.settled([pending.event_id])
        assert third.claim([pending], {}).granted == [pending.event_id]

    def test_an_unsure_records_raised_floor_is_where_the_next_taker_reads_from(self) -> None:
        """keep_unsure raises the floor of this process's claim (the log read that far without
        finding it), not of another process's: once the owner is gone, a taker is told the
        raised floor."""
        first, second = self.open_index(), self.open_index()
        mine, theirs = record(), record()
        first.claim([mine], {0: 5, 1: 2})
        second.claim([theirs], {0: 5})
        first.keep_unsure([(mine, {0: 40, 1: 2}), (theirs, {0: 40})])
        self._open.remove(first)
        assert isinstance(first, PostgresReceiptIndex)
        end_session(first, close=True)
        assert second.claim([mine], {}).orphaned == {mine.event_id: {0: 40, 1: 2}}
        assert second.claim([theirs], {}).granted == [theirs.event_id]
        second.release([theirs.event_id])
        assert self.open_index().claim([theirs], {}).granted == [theirs.event_id]

    def test_a_claim_whose_session_ended_is_taken_over_only_past_the_producers_delivery(
        self,
    ) -> None:
        """An owner that lost only its database session may still have the record in flight:
        its claim is busy (retry) until older than the producer's delivery allows, then taken
        over; the owner then cannot confirm it, but confirms one of its claims not taken."""
        owner = self.open_index()
        assert isinstance(owner, PostgresReceiptIndex)
        taken, kept = record(), record()
        claimed_at = time.monotonic()
        owner.claim([taken, kept], {0: 4})
        end_session(owner)
        other = self.create_index(in_flight=1.0)
        self._open.append(other)
        claims = other.claim([taken], {})
        assert (claims.busy, claims.orphaned, claims.granted) == ([taken.event_id], {}, [])

        def taken_over() -> bool:
            return other.claim([taken], {}).orphaned == {taken.event_id: {0: 4}}

        wait_for(taken_over, timeout=10, what="the claim to be taken over")
        lost = owner.confirm([accepted(taken, 1), accepted(kept, 2)], claimed_at)
        assert lost == [taken.event_id]
        assert set(owner.get([taken.event_id, kept.event_id])) == {kept.event_id}
        assert set(other.get([kept.event_id])) == {kept.event_id}

    @pytest.mark.parametrize("session_lost", [False, True], ids=["same-session", "new-session"])
    def test_a_claim_granted_again_is_taken_over_no_sooner_than_a_new_one(
        self, session_lost: bool
    ) -> None:
        """A retry granted this process's old claim again (on the same session, or moved from
        one since lost) sends the record again: the claim is dated anew, so once the owner's
        session ends another process waits the producer's delivery before taking it over."""
        owner = self.open_index()
        assert isinstance(owner, PostgresReceiptIndex)
        pending = record()
        owner.claim([pending], {})
        with psycopg.connect(**owner.location.conninfo(), autocommit=True) as admin:
            admin.execute(
                "UPDATE receipts SET claimed_at = claimed_at - interval '1 hour' "
                "WHERE event_id = %s",
                (pending.event_id,),
            )
        if session_lost:
            end_session(owner)
        assert owner.claim([pending], {}).granted == [pending.event_id]
        end_session(owner)
        other = self.create_index(in_flight=60.0)
        self._open.append(other)
        claims = other.claim([pending], {})
        assert (claims.busy, claims.orphaned) == ([pending.event_id], {})

    def test_a_claim_made_as_its_session_is_replaced_is_the_new_sessions(self) -> None:
        """A claim first tried on a session found lost is made on the one replacing it: owned
        by a live session, another process waits for it rather than taking it over."""
        owner, other = self.open_index(), self.open_index()
        assert isinstance(owner, PostgresReceiptIndex)
        pending = record()
        end_session(owner)
        assert owner.claim([pending], {}).granted == [pending.event_id]
        claims = other.claim([pending], {})
        assert (claims.held, claims.orphaned) == ([pending.event_id], {})

    def test_a_session_that_could_not_be_identified_is_not_claimed_with(self) -> None:
        """The session replacing a lost one fails before it is known as an owner: it is not
        used, so the next claim is made on one that is (another process waits for it)."""
        owner, other = self.open_index(), self.open_index()
        assert isinstance(owner, PostgresReceiptIndex)
        pending = record()
        end_session(owner)
        execute = psycopg.Connection.execute

        def unidentified(conn: psycopg.Connection[Any], sql: Any, *args: Any) -> Any:
            if "pg_backend_pid()" in str(sql):
                raise psycopg.OperationalError("injected: the session went away")
            return execute(conn, sql, *args)

        with (
            pytest.MonkeyPatch.context() as patch,
            pytest.raises(LedgerUnavailable, match="injected"),
        ):
            patch.setattr(psycopg.Connection, "execute", unidentified)
            owner.claim([pending], {})
        assert owner.claim([pending], {}).granted == [pending.event_id]
        claims = other.claim([pending], {})
        assert (claims.held, claims.orphaned) == ([pending.event_id], {})

    def test_a_late_confirmation_the_database_fails_is_put_and_answered_lost(self) -> None:
        """Acknowledged after its claim could be taken over, a record whose claim cannot be
        checked (the database fails) is lost to the caller (a retry), yet its receipt is put:
        it is on the log, and the retry answers it as a duplicate."""
        index = self.open_index()
        pending = record()
        claimed_at = time.monotonic()
        index.claim([pending], {})
        landed = accepted(pending, offset=5)
        execute = psycopg.Connection.execute

        def refuse_confirm(conn: psycopg.Connection[Any], sql: Any, *args: Any) -> Any:
            if "UPDATE receipts AS r SET partition" in str(sql):
                raise psycopg.OperationalError("injected: the database refused")
            return execute(conn, sql, *args)

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(psycopg.Connection, "execute", refuse_confirm)
            assert index.confirm([landed], claimed_at) == [pending.event_id]
        assert index.get([pending.event_id]) == {pending.event_id: landed.as_duplicate()}

    def test_a_claim_failing_part_way_leaves_nothing_claimed_nor_taken_over(self) -> None:
        """The database fails after the batch's new event_ids were inserted and a dead
        owner's claim was taken over: none stays this live process's, so another process
        is granted the new ones at once, and the dead owner's is still to be settled."""
        gone, live, other = self.open_index(), self.open_index(), self.open_index()
        assert isinstance(live, PostgresReceiptIndex)
        fresh, orphan = record(), record()
        gone.claim([orphan], {1: 3})
        self._open.remove(gone)
        assert isinstance(gone, PostgresReceiptIndex)
        end_session(gone, close=True)
        statements: list[str] = []
        execute = psycopg.Connection.execute

        def fail_after_take_over(conn: psycopg.Connection[Any], sql: Any, *args: Any) -> Any:
            statements.append(str(sql))
            cursor = execute(conn, sql, *args)
            if "UPDATE receipts SET owner_pid" in str(sql):
                raise psycopg.OperationalError("injected: the database went away")
            return cursor

        with (
            pytest.MonkeyPatch.context() as patch,
            pytest.raises(LedgerUnavailable, match="injected"),
        ):
            patch.setattr(psycopg.Connection, "execute", fail_after_take_over)
            live.claim([fresh, orphan], {})
        assert any("UPDATE receipts SET owner_pid" in s for s in statements)
        assert other.claim([fresh], {}).granted == [fresh.event_id]
        assert live.claim([orphan], {}).orphaned == {orphan.event_id: {1: 3}}

    def test_a_batch_with_a_conflict_or_an_orphan_is_granted_nothing(self) -> None:
        """Whatever else the batch finds, its new event_ids are not left claimed: another
        process is granted them at once."""
        first, second, third = self.open_index(), self.open_index(), self.open_index()
        taken, fresh = record(), record()
        first.claim([taken], {})
        claims = second.claim([fresh, record(taken.event_id, "cd" * 32)], {})
        assert (claims.conflicts, claims.granted) == ([taken.event_id], [])
        assert third.claim([fresh], {}).granted == [fresh.event_id]

    def test_a_release_the_database_refuses_is_made_later(self) -> None:
        """Given up while the database refuses (release does not raise), a claim is given up
        once it answers again, without this process seeing the event again: another process
        is then granted it."""
        first, second = self.open_index(), self.open_index()
        assert isinstance(first, PostgresReceiptIndex)
        pending = record()
        first.claim([pending], {})
        execute = psycopg.Connection.execute
        refused = threading.Event()

        def refuse_deletes(conn: psycopg.Connection[Any], sql: Any, *args: Any) -> Any:
            if "DELETE FROM receipts" in str(sql):
                refused.set()
                raise psycopg.OperationalError("injected: the database refused")
            return execute(conn, sql, *args)

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(psycopg.Connection, "execute", refuse_deletes)
            first.release([pending.event_id])
            assert refused.is_set()
            assert second.claim([pending], {}).held == [pending.event_id]

        def granted() -> bool:
            return second.claim([pending], {}).granted == [pending.event_id]

        wait_for(granted, timeout=10, what="the claim to be given up")

    def test_processes_claiming_one_event_id_at_once_are_granted_it_once(self) -> None:
        """Eight sessions claim the same event_ids together: each is granted to exactly one."""
        indexes = [self.open_index() for _ in range(8)]
        records = [record() for _ in range(20)]
        barrier = threading.Barrier(len(indexes))
        granted: list[str] = []
        lock = threading.Lock()

        def claim(index: ReceiptIndex) -> None:
            barrier.wait()
            won = index.claim(records, {}).granted
            with lock:
                granted.extend(won)

        threads = [threading.Thread(target=claim, args=(i,)) for i in indexes]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert sorted(granted) == sorted(r.event_id for r in records)

    def test_each_topic_has_receipts_of_its_own(self) -> None:
        """The same event_id on another topic is another event: granted there."""
        index = self.open_index()
        pending = record()
        index.claim([pending], {})
        index.put([accepted(pending)])
        index.flush()
        assert isinstance(self.place, PostgresLocation)
        other = PostgresReceiptIndex.open(self.place, TOPIC + ".other", in_flight=0.0)
        self._open.append(other)
        assert other.get([pending.event_id]) == {}
        assert other.claim([pending], {}).granted == [pending.event_id]
