"""Chat: POST /api/chat/ask answers questions in plain words from a table (the built-in
parser, no network; or an LLM's query spec through a local chat-completions stand-in), keeps
conversations for follow-ups, and says when it cannot answer instead of guessing."""
import datetime
import statistics
import time

import pytest

from access_helpers import assert_invalid, call, client, register
from conftest import assert_envelope
from documents_helpers import make_pdf
from llm_stub import serving
from test_documents import upload, wait_done

TODAY = datetime.datetime.now(datetime.timezone.utc).date()
REGIONS = ["West", "East", "North", "South"]
CUSTOMERS = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark Industries", "Wayne Enterprises"]
PRODUCTS = ["Widget", "Gadget", "Gizmo"]
STATUSES = ["Shipped", "Pending", "Cancelled"]


def _orders():
    """40 orders, deterministic: half in the last 30 days, half in 2025."""
    rows = []
    for i in range(40):
        day = TODAY - datetime.timedelta(days=i % 20) if i < 20 else datetime.date(2025, 1 + i % 12, 1 + (i * 7) % 28)
        rows.append({
            "id": 1001 + i, "day": day, "region": REGIONS[(i * 3) % 4], "customer": CUSTOMERS[(i * 5) % 7],
            "product": PRODUCTS[(i * 2) % 3], "quantity": 1 + (i * 7) % 9, "amount": round(50 + ((i * 37) % 23) * 41.5, 2),
            "status": STATUSES[(i * 11) % 3] if i % 4 else "Shipped", "discount": [0, 5, 10, 7.5][i % 4],
        })
    return rows


ORDERS = _orders()


def _csv():
    lines = ["Order ID,Order Date,Region,Customer,Product,Quantity,Amount,Status,Discount"]
    for o in ORDERS:
        day = f"{o['day'].day} {o['day'].strftime('%B')} {o['day'].year}"
        amount = f"\"${o['amount']:,.2f}\""
        lines.append(f"{o['id']},{day},{o['region']},{o['customer']},{o['product']},{o['quantity']},{amount},"
                     f"{o['status']},{o['discount']}%")
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture(scope="module")
def orders():
    account = register()
    r = upload(account, _csv(), filename="orders.csv")
    assert r.status_code == 202, r.text
    document = r.json()["id"]
    assert wait_done(account, document)["status"] == "done"
    [table] = account.get(f"/api/documents/{document}/tables").json()["items"]
    return account, document, table


def ask(account, question, **subject):
    r = account.post("/api/chat/ask", {"question": question, **subject})
    assert r.status_code == 200, r.text
    return r.json()


def where(**conditions):
    return [o for o in ORDERS if all(test(o) for test in conditions.values())]


def close(a, b):
    return abs(float(a) - float(b)) < 0.01


def month_start(day):
    return day.replace(day=1).isoformat()


def by_total(key, rows, measure="amount", reverse=True):
    totals = {}
    for o in rows:
        totals[o[key]] = totals.get(o[key], 0) + o[measure]
    return sorted(totals, key=lambda k: (-totals[k] if reverse else totals[k], k)), totals


# --- questions with one number for an answer --------------------------------------------------

AGGREGATES = [
    ("How many orders are there?", len(ORDERS)),
    ("How many orders came from the WEST region?", len(where(r=lambda o: o["region"] == "West"))),
    ("how many orders from west?", len(where(r=lambda o: o["region"] == "West"))),
    ("What is the total amount?", sum(o["amount"] for o in ORDERS)),
    ("What is the average amount in the East region?",
     statistics.mean(o["amount"] for o in where(r=lambda o: o["region"] == "East"))),
    ("What is the highest amount?", max(o["amount"] for o in ORDERS)),
    ("What is the lowest quantity for Globex?", min(o["quantity"] for o in where(c=lambda o: o["customer"] == "Globex"))),
    ("How many orders have an amount greater than 500?", len(where(a=lambda o: o["amount"] > 500))),
    ("How many orders have a quantity of at least 5?", len(where(q=lambda o: o["quantity"] >= 5))),
    ("How many orders have an amount between 100 and 300?", len(where(a=lambda o: 100 <= o["amount"] <= 300))),
    ("How many orders are not shipped?", len(where(s=lambda o: o["status"] != "Shipped"))),
    ("What is the total quantity for Initech in the North region?",
     sum(o["quantity"] for o in where(c=lambda o: o["customer"] == "Initech", r=lambda o: o["region"] == "North"))),
    ("How many orders did Acme place?", len(where(c=lambda o: o["customer"] == "Acme"))),
    ("How many different customers are there?", len({o["customer"] for o in ORDERS})),
    ("What is the median amount?", statistics.median(o["amount"] for o in ORDERS)),
    ("What is the average discount?", statistics.mean(o["discount"] for o in ORDERS)),
    ("What is the total amount in the last 30 days?",
     sum(o["amount"] for o in where(d=lambda o: (TODAY - o["day"]).days < 30))),
    ("What was the total amount in 2025?", sum(o["amount"] for o in where(d=lambda o: o["day"].year == 2025))),
    ("How many orders were placed after 1 June 2025?", len(where(d=lambda o: o["day"] > datetime.date(2025, 6, 1)))),
    ("What is the total amount for orders with more than 4 units of quantity and status pending?",
     sum(o["amount"] for o in where(q=lambda o: o["quantity"] > 4, s=lambda o: o["status"] == "Pending"))),
]


@pytest.mark.parametrize("question,expected", AGGREGATES, ids=[q for q, _ in AGGREGATES])
def test_aggregate_questions(orders, question, expected):
    account, document, table = orders
    reply = ask(account, question, table_id=table["id"])
    assert reply["answered"] is True, reply
    assert reply["method"] == "parser"
    [value] = reply["answer"]["values"]
    assert close(value, expected), (reply["understood"], reply["sql"], value, expected)
    # What ran is shown: the query spec, its SQL with bound parameters, and a sentence.
    assert reply["sql"].startswith("WITH src AS") and "$1" in reply["sql"] or not reply["query"].get("filters")
    assert reply["answer"]["text"] and 0 < reply["confidence"] <= 1


# --- lookups ---------------------------------------------------------------------------------

def order(number):
    return next(o for o in ORDERS if o["id"] == number)


LOOKUPS = [
    ("Which customer placed order 1017?", [order(1017)["customer"]]),
    ("What is the status of order 1005?", [order(1005)["status"]]),
    ("Who is the customer of order 1003?", [order(1003)["customer"]]),
    ("What is the amount of order 1001?", [order(1001)["amount"]]),
    ("What is the product for order 1022?", [order(1022)["product"]]),
]


@pytest.mark.parametrize("question,expected", LOOKUPS, ids=[q for q, _ in LOOKUPS])
def test_lookup_questions(orders, question, expected):
    account, document, table = orders
    reply = ask(account, question, table_id=table["id"])
    assert reply["answered"] is True, reply
    values = reply["answer"]["values"]
    assert len(values) == len(expected) and all(
        close(v, e) if isinstance(e, float) else v == e for v, e in zip(values, expected)), (reply["understood"], values)


def test_dates_and_percentages_are_answered_as_the_file_writes_them(orders):
    account, document, table = orders
    placed = order(1010)["day"]
    reply = ask(account, "When was order 1010 placed?", table_id=table["id"])
    assert reply["answer"]["values"] == [f"{placed.day} {placed.strftime('%B')} {placed.year}"], reply
    reply = ask(account, "What is the discount of order 1002?", table_id=table["id"])
    assert reply["answer"]["values"] == ["5%"], reply
    # The table keeps ISO dates; the column records how the file wrote them.
    column = next(c for c in table["columns"] if c["header"] == "Order Date")
    assert column["type"] == "date" and column["format"] == "{d} {Month} {yyyy}"


def test_a_list_of_matching_rows(orders):
    account, document, table = orders
    reply = ask(account, "List the customers in the East region", table_id=table["id"])
    expected = [o["customer"] for o in ORDERS if o["region"] == "East"]
    assert sorted(reply["answer"]["values"]) == sorted(expected), reply
    # The rows show the column asked for and the one the condition is on.
    assert [c["name"] for c in reply["answer"]["columns"]] == ["customer", "region"]
    assert all(row[1] == "East" for row in reply["answer"]["rows"])


# --- grouping, ranking, charts ----------------------------------------------------------------

def test_totals_by_a_column_come_with_a_chart(orders):
    account, document, table = orders
    reply = ask(account, "What is the total amount by region?", table_id=table["id"])
    ranked, totals = by_total("region", ORDERS)
    assert reply["answer"]["values"] == ranked, reply["understood"]
    assert all(close(row[1], totals[row[0]]) for row in reply["answer"]["rows"])
    chart = reply["answer"]["chart"]
    assert chart["type"] == "bar" and chart["svg"].startswith("<svg") and "West" in chart["svg"]


def test_totals_by_month_are_a_time_series(orders):
    account, document, table = orders
    reply = ask(account, "Total amount by month", table_id=table["id"])
    months = sorted({month_start(o["day"]) for o in ORDERS})
    assert reply["answer"]["values"] == months, reply["understood"]
    assert reply["understood"]["group_by"] == {"column": "order_date", "bucket": "month"}
    assert reply["answer"]["chart"]["type"] == "line"


def test_top_n_and_which_has_the_highest(orders):
    account, document, table = orders
    ranked, _ = by_total("customer", ORDERS)
    reply = ask(account, "Top 3 customers by amount", table_id=table["id"])
    assert reply["answer"]["values"] == ranked[:3], reply["understood"]
    reply = ask(account, "Which region has the highest total amount?", table_id=table["id"])
    assert reply["answer"]["values"] == by_total("region", ORDERS)[0][:1], reply["understood"]
    lowest, _ = by_total("product", ORDERS, measure="quantity", reverse=False)
    reply = ask(account, "Which product has the lowest total quantity?", table_id=table["id"])
    assert reply["answer"]["values"] == lowest[:1], reply["understood"]


# --- follow-ups and conversations -------------------------------------------------------------

def test_follow_ups_build_on_the_previous_question(orders):
    account, document, table = orders
    first = ask(account, "What is the total amount in the West region?", document_id=document)
    west = sum(o["amount"] for o in ORDERS if o["region"] == "West")
    assert close(first["answer"]["values"][0], west)
    conversation = first["conversation_id"]
    second = ask(account, "and in the East?", conversation_id=conversation)
    assert close(second["answer"]["values"][0], sum(o["amount"] for o in ORDERS if o["region"] == "East")), second
    assert second["conversation_id"] == conversation and second["turn"] == 2
    third = ask(account, "and by month?", conversation_id=conversation)
    east_months = sorted({month_start(o["day"]) for o in ORDERS if o["region"] == "East"})
    assert third["answer"]["values"] == east_months, third["understood"]
    # The history, oldest first, and the list of conversations.
    history = account.get(f"/api/chat/conversations/{conversation}").json()
    assert [t["question"] for t in history["turns"]] == ["What is the total amount in the West region?", "and in the East?",
                                                         "and by month?"]
    assert history["subject"] == {"document_id": document}
    assert history["turns"][1]["reply"]["answer"]["values"] == second["answer"]["values"]
    listed = account.get("/api/chat/conversations?limit=100").json()["items"]
    assert conversation in [c["id"] for c in listed]
    # A self-contained question in the same conversation does not inherit the old conditions.
    fresh = ask(account, "How many orders are there?", conversation_id=conversation)
    assert fresh["answer"]["values"] == [len(ORDERS)]
    # Deleted, it is gone.
    assert account.delete(f"/api/chat/conversations/{conversation}").status_code == 200
    assert_envelope(account.get(f"/api/chat/conversations/{conversation}"), 404, "not_found")


# --- what it cannot answer ----------------------------------------------------------------------

@pytest.mark.parametrize("question", ["What is the weather tomorrow?", "Tell me a joke", "Who won the world cup in 1998?",
                                      "'; DROP TABLE users; --"])
def test_questions_it_cannot_answer_get_answered_false(orders, question):
    account, document, table = orders
    reply = ask(account, question, table_id=table["id"])
    assert reply["answered"] is False, reply
    assert reply["answer"]["values"] == [] and reply["understood"]["problem"]
    assert "could not answer" in reply["answer"]["text"]
    # Nothing was run, and the tables are still there.
    assert "sql" not in reply
    assert account.get(f"/api/tables/{table['id']}/rows?limit=1").status_code == 200


def test_values_are_bound_not_spliced():
    # A question whose words match a stored value holding SQL: the value is a bound parameter.
    account = register()
    content = b"Customer,Amount\n\"O'Brien; DROP TABLE users; --\",10\nAcme,20\nAcme,5\n"
    r = upload(account, content, filename="names.csv")
    assert wait_done(account, r.json()["id"])["status"] == "done"
    reply = ask(account, "What is the total amount for O'Brien; DROP TABLE users; --?", document_id=r.json()["id"])
    assert reply["answered"] and reply["answer"]["values"] == [10], reply
    assert "O'Brien" not in reply["sql"] and "O'Brien; DROP TABLE users; --" in reply["parameters"]
    assert account.get("/api/auth/me").status_code == 200


# --- subjects, errors, quota ----------------------------------------------------------------------

def test_the_seed_body_asks_about_a_documents_tables(orders):
    account, document, table = orders
    reply = ask(account, "What is the average amount?", document_id=document)
    assert close(reply["answer"]["values"][0], statistics.mean(o["amount"] for o in ORDERS))
    assert reply["table"]["id"] == table["id"]


def test_a_dashboards_tables_can_be_asked(orders):
    account, document, table = orders
    r = account.post("/api/dashboards/generate", {"table_ids": [table["id"]]})
    assert r.status_code == 201, r.text
    reply = ask(account, "How many orders are there?", dashboard_id=r.json()["id"])
    assert reply["answer"]["values"] == [len(ORDERS)]


def test_bad_requests_are_named(orders):
    account, document, table = orders
    http = client()

    def post(body, **kwargs):
        return call(http, "POST", "/api/chat/ask", token=account.access, json=body, **kwargs)

    assert_invalid(post({"table_id": table["id"]}), "question")
    assert_invalid(post({"table_id": table["id"], "question": 5}), "question")
    assert_invalid(post({"table_id": table["id"], "question": "   "}), "question")
    assert_invalid(post({"question": "How many?"}), "document_id")
    assert_invalid(post({"question": "How many?", "table_id": table["id"], "document_id": document}), "table_id")
    assert_invalid(post({"question": "How many?", "table_id": "nope"}), "table_id")
    assert_invalid(post({"question": "x" * 1001, "table_id": table["id"]}), "question")
    r = call(http, "POST", "/api/chat/ask", token=account.access, data=b'{"question": ', headers={"Content-Type": "application/json"})
    assert_envelope(r, 400, "invalid_json")
    assert_envelope(post({"question": "How many?", "document_id": "00000000-0000-4000-8000-000000000000"}), 404, "not_found")
    assert_envelope(post({"question": "How many?", "conversation_id": "00000000-0000-4000-8000-000000000000"}), 404,
                    "not_found")
    assert_envelope(call(http, "POST", "/api/chat/ask", json={"question": "How many?", "table_id": table["id"]}), 401,
                    "unauthorized")


def test_another_teams_table_and_conversation_are_404(orders):
    account, document, table = orders
    first = ask(account, "How many orders are there?", table_id=table["id"])
    other = register()
    assert_envelope(other.post("/api/chat/ask", {"question": "How many orders?", "table_id": table["id"]}), 404, "not_found")
    assert_envelope(other.post("/api/chat/ask", {"question": "How many orders?", "document_id": document}), 404, "not_found")
    assert_envelope(other.post("/api/chat/ask", {"question": "and in the East?",
                                                 "conversation_id": first["conversation_id"]}), 404, "not_found")
    assert_envelope(other.get(f"/api/chat/conversations/{first['conversation_id']}"), 404, "not_found")
    # A conversation stays about its subject.
    assert_invalid(account.post("/api/chat/ask", {"question": "How many orders?", "document_id": document,
                                                  "conversation_id": first["conversation_id"]}), "conversation_id")


def test_a_document_without_tables_is_409():
    account = register()
    r = upload(account, make_pdf([["Just a letter.", "Nothing tabular in it at all."]]), filename="letter.pdf")
    assert r.status_code == 202, r.text
    assert wait_done(account, r.json()["id"])["status"] == "done"
    assert_envelope(account.post("/api/chat/ask", {"question": "How many rows?", "document_id": r.json()["id"]}), 409,
                    "no_tables")


def test_the_chat_quota_class(pool, orders):
    account, document, table = orders
    pool.restart(ASSAY_QUOTA_CHAT=3)
    try:
        asker = register()
        r = upload(asker, _csv(), filename="orders.csv")
        assert wait_done(asker, r.json()["id"])["status"] == "done"
        for _ in range(3):
            assert asker.post("/api/chat/ask", {"question": "How many orders?", "document_id": r.json()["id"]}).status_code == 200
        limited = asker.post("/api/chat/ask", {"question": "How many orders?", "document_id": r.json()["id"]})
        assert_envelope(limited, 429, "quota_exceeded")
        assert int(limited.headers["Retry-After"]) > 0
    finally:
        pool.restart()


# --- the LLM path, against a local chat-completions stand-in -------------------------------------

@pytest.fixture
def llm(pool):
    with serving(pool, LLM_API_KEY="sk-chat-secret", LLM_TIMEOUT=2, LLM_MAX_RETRIES=2) as stub:
        yield stub


def spec_answer(table, **spec):
    full = {"columns": None, "measures": None, "dimensions": None, "filters": None, "order": None, "limit": None, **spec}
    return {"answerable": True, "table": table["name"], "spec": full, "explanation": "as asked"}


def test_the_llm_reads_the_question_into_a_spec(llm, pool, orders):
    account, document, table = orders
    llm.script = [("status", 429, 1), ("answer", spec_answer(
        table, measures=[{"op": "sum", "column": "amount"}],
        filters=[{"column": "region", "op": "=", "value": "North", "values": None}]))]
    reply = ask(account, "What did the north sell?", table_id=table["id"])
    assert reply["method"] == "llm" and "llm_fallback" not in reply, reply
    assert close(reply["answer"]["values"][0], sum(o["amount"] for o in ORDERS if o["region"] == "North"))
    assert len(llm.requests) == 2
    body = llm.requests[-1]["body"]
    assert llm.requests[-1]["headers"]["Authorization"] == "Bearer sk-chat-secret"
    assert body["model"] == "stub-model" and body["response_format"]["type"] == "json_schema"
    prompt = body["messages"][-1]["content"]
    assert "What did the north sell?" in prompt and "amount (number)" in prompt and "Order Date" in prompt
    assert "sk-chat-secret" not in pool.log.read_text(errors="replace")


def test_an_invalid_spec_falls_back_to_the_parser(llm, orders):
    account, document, table = orders
    llm.script = [("answer", spec_answer(table, measures=[{"op": "sum", "column": "no_such_column"}]))]
    reply = ask(account, "What is the total amount?", table_id=table["id"])
    assert reply["method"] == "parser" and "not valid" in reply["llm_fallback"], reply
    assert close(reply["answer"]["values"][0], sum(o["amount"] for o in ORDERS))


def test_a_model_that_cannot_answer_or_answers_garbage_falls_back(llm, orders):
    account, document, table = orders
    llm.script = [("answer", {"answerable": False, "table": table["name"], "spec": {}, "explanation": "no idea"})]
    reply = ask(account, "How many orders are there?", table_id=table["id"])
    assert reply["method"] == "parser" and "no idea" in reply["llm_fallback"]
    assert reply["answer"]["values"] == [len(ORDERS)]
    llm.script = [("garbage",)]
    reply = ask(account, "How many orders are there?", table_id=table["id"])
    assert reply["method"] == "parser" and reply["answer"]["values"] == [len(ORDERS)]


def test_a_slow_model_times_out_and_the_parser_answers(llm, orders):
    account, document, table = orders
    slow = ("slow", 6, spec_answer(table, measures=[{"op": "count", "column": None}]))
    llm.script = [slow, slow]
    started = time.monotonic()
    reply = ask(account, "How many orders are there?", table_id=table["id"])
    elapsed = time.monotonic() - started
    assert reply["method"] == "parser" and reply["answer"]["values"] == [len(ORDERS)], reply
    # Two attempts of LLM_TIMEOUT (2 s) and one backoff (1 s), not the model's 6 s each.
    assert elapsed < 8, elapsed


def test_conversation_routes_answer_bad_ids_with_the_envelope(orders):
    account, document, table = orders
    assert_envelope(account.get("/api/chat/conversations/not-a-uuid"), 404, "not_found")
    assert_envelope(account.delete("/api/chat/conversations/00000000-0000-4000-8000-000000000000"), 404, "not_found")
    assert_invalid(account.get("/api/chat/conversations?limit=0"), "limit")
    r = account.get(f"/api/chat/conversations/{ask(account, 'How many orders are there?', table_id=table['id'])['conversation_id']}")
    # Times as every other route writes them.
    assert r.json()["created_at"].endswith("Z") and r.json()["turns"][0]["asked_at"].endswith("Z")
