-- Problems that did not stop a document from being read, shown with it: e.g. a page that
-- gave no text even after OCR was retried ({"code": "no_text_found", "page": 3, "message": …}).
ALTER TABLE documents ADD COLUMN warnings jsonb NOT NULL DEFAULT '[]';
