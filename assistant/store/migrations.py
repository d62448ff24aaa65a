"""Versioned schema migrations. Append a new entry; never edit a shipped one."""

from __future__ import annotations

MIGRATIONS: tuple[str, ...] = (
    # 1: sessions, captions in every language, correction audit, hashed tokens
    """
    CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        title TEXT NOT NULL,
        source_lang TEXT NOT NULL,
        created_at_ms INTEGER NOT NULL,
        started_at_ms INTEGER,
        ended_at_ms INTEGER,
        languages TEXT NOT NULL DEFAULT '[]',
        glossary TEXT NOT NULL DEFAULT '[]',
        public INTEGER NOT NULL DEFAULT 1
    );
    CREATE TABLE captions (
        session TEXT NOT NULL REFERENCES sessions(id),
        lang TEXT NOT NULL,
        seq INTEGER NOT NULL,
        id TEXT NOT NULL,
        start_ms INTEGER NOT NULL,
        end_ms INTEGER NOT NULL,
        text TEXT NOT NULL,
        revision INTEGER NOT NULL DEFAULT 0,
        origin TEXT NOT NULL,
        source_lang TEXT,
        source_text TEXT,
        fallback INTEGER NOT NULL DEFAULT 0,
        created_at_ms INTEGER,
        PRIMARY KEY (session, lang, seq)
    );
    CREATE UNIQUE INDEX captions_by_id ON captions(session, id, lang);
    CREATE TABLE revisions (
        session TEXT NOT NULL,
        caption_id TEXT NOT NULL,
        lang TEXT NOT NULL,
        revision INTEGER NOT NULL,
        before TEXT NOT NULL,
        after TEXT NOT NULL,
        author TEXT NOT NULL,
        at_ms INTEGER NOT NULL
    );
    CREATE INDEX revisions_by_caption ON revisions(session, caption_id);
    CREATE TABLE tokens (
        role TEXT PRIMARY KEY,
        hash TEXT NOT NULL,
        created_at_ms INTEGER NOT NULL
    );
    """,
    # 2: keys of private sessions (salted hashes; delegates present the key as ?key=)
    """
    CREATE TABLE session_keys (
        session TEXT PRIMARY KEY REFERENCES sessions(id),
        hash TEXT NOT NULL,
        set_at_ms INTEGER NOT NULL
    );
    """,
    # 3: how a session came to be ("config" or "api"); sessions made through the API and not ended
    #    are reopened at start, as they were (the config's are opened from the config)
    """
    ALTER TABLE sessions ADD COLUMN created_via TEXT NOT NULL DEFAULT 'config';
    """,
    # 4: tokens that hold a role in one session only (a room's chair), hashed; revoked ones are kept
    #    for the record. ``session`` has no foreign key: a token may be issued before its session first runs.
    """
    CREATE TABLE scoped_tokens (
        id TEXT PRIMARY KEY,
        hash TEXT NOT NULL UNIQUE,
        role TEXT NOT NULL,
        session TEXT NOT NULL,
        created_at_ms INTEGER NOT NULL,
        revoked_at_ms INTEGER
    );
    CREATE INDEX scoped_tokens_by_session ON scoped_tokens(session);
    """,
    # 5: translations made for exports after the event, per revision of the spoken caption. Kept apart
    # from `captions`, whose (session, lang, seq) numbering belongs to the live session core.
    """
    CREATE TABLE export_translations (
        session TEXT NOT NULL REFERENCES sessions(id),
        caption_id TEXT NOT NULL,
        source_revision INTEGER NOT NULL,
        lang TEXT NOT NULL,
        text TEXT NOT NULL,
        fallback INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (session, caption_id, source_revision, lang)
    );
    """,
    # 6: the floor's questions (moderated Q&A), their texts in every language, and who up-voted them
    """
    CREATE TABLE questions (
        session TEXT NOT NULL REFERENCES sessions(id),
        id TEXT NOT NULL,
        number INTEGER NOT NULL,
        lang TEXT NOT NULL,
        text TEXT NOT NULL,
        name TEXT,
        device TEXT NOT NULL,
        state TEXT NOT NULL,
        merged_into TEXT,
        votes INTEGER NOT NULL DEFAULT 0,
        revision INTEGER NOT NULL DEFAULT 0,
        asked_at_ms INTEGER NOT NULL,
        changed_at_ms INTEGER NOT NULL,
        PRIMARY KEY (session, id)
    );
    CREATE UNIQUE INDEX questions_by_number ON questions(session, number);
    CREATE TABLE question_texts (
        session TEXT NOT NULL,
        question_id TEXT NOT NULL,
        lang TEXT NOT NULL,
        text TEXT NOT NULL,
        fallback INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (session, question_id, lang)
    );
    CREATE TABLE question_votes (
        session TEXT NOT NULL,
        question_id TEXT NOT NULL,
        device TEXT NOT NULL,
        at_ms INTEGER NOT NULL,
        PRIMARY KEY (session, question_id, device)
    );
    """,
    # 7: finals may be pieces of a line (the recogniser settles words before a phone line fills):
    #    ``continues`` marks a caption that joins the line of the one before it
    """
    ALTER TABLE captions ADD COLUMN continues INTEGER NOT NULL DEFAULT 0;
    """,
    # 8: the conference programme (rooms, talks: each talk is a session of the same id) and when each talk
    #    really ran (rolled over by the clock or by the chair's "Next talk"); replaced whole by an import
    """
    CREATE TABLE programme_rooms (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        position INTEGER NOT NULL
    );
    CREATE TABLE programme_talks (
        id TEXT PRIMARY KEY,
        room TEXT NOT NULL REFERENCES programme_rooms(id),
        title TEXT NOT NULL,
        speakers TEXT NOT NULL DEFAULT '[]',
        start_ms INTEGER NOT NULL,
        end_ms INTEGER NOT NULL,
        timezone TEXT NOT NULL,
        language TEXT NOT NULL,
        languages TEXT NOT NULL DEFAULT '[]',
        glossary TEXT NOT NULL DEFAULT '[]',
        line INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX programme_talks_by_room ON programme_talks(room, start_ms);
    CREATE TABLE programme_imports (
        at_ms INTEGER NOT NULL,
        source TEXT NOT NULL,
        rooms INTEGER NOT NULL,
        talks INTEGER NOT NULL
    );
    CREATE TABLE talk_runs (
        talk TEXT PRIMARY KEY,
        room TEXT NOT NULL,
        started_at_ms INTEGER NOT NULL,
        ended_at_ms INTEGER,
        held INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX talk_runs_by_room ON talk_runs(room, started_at_ms);
    """,
    # 9: who is speaking, from which audio time on (the programme's speakers, switched by the chair):
    #    the speaker turns of every export
    """
    CREATE TABLE speaker_turns (
        session TEXT NOT NULL REFERENCES sessions(id),
        audio_ms INTEGER NOT NULL,
        speaker TEXT NOT NULL,
        at_ms INTEGER NOT NULL,
        PRIMARY KEY (session, audio_ms)
    );
    """,
    # 10: what made each export translation (packages, versions, glossary): another is made again
    """
    ALTER TABLE export_translations ADD COLUMN engine TEXT NOT NULL DEFAULT '';
    """,
)
