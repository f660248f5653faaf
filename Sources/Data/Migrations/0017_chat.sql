-- Chat: conversations about one subject (a table, a document's tables or a dashboard's), and
-- their turns: each question with the answer given (the interpretation, the query spec, the
-- SQL and the result), so that a follow-up can build on the previous question and the history
-- can be read back.
CREATE TABLE chat_conversations (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    team_id uuid NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    created_by uuid REFERENCES users (id) ON DELETE SET NULL,
    subject jsonb NOT NULL,
    title text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX chat_conversations_team ON chat_conversations (team_id, updated_at DESC, id);

CREATE TABLE chat_turns (
    conversation_id uuid NOT NULL REFERENCES chat_conversations (id) ON DELETE CASCADE,
    position integer NOT NULL,
    question text NOT NULL,
    answer jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (conversation_id, position)
);
