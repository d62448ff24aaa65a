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
)
