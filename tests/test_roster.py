"""Class rosters: the accepted format, and every kind of bad file reported with its line."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from dlnotes.assignments import RosterError, Student, parse_roster, read_roster
from dlnotes.cli import app

runner = CliRunner()


def test_roster_reads_students_in_file_order():
    text = "student_id,name,email\ns2,Alan Turing,alan@x.org\ns1,Ada Lovelace,ada@x.org\n"
    assert parse_roster(text) == [Student("s2", "Alan Turing", "alan@x.org"),
                                  Student("s1", "Ada Lovelace", "ada@x.org")]


def test_roster_accepts_what_spreadsheets_write(tmp_path):
    # BOM, CRLF line ends, an "id" column, columns in another order, an extra column,
    # quoted names with commas, blank lines and empty emails.
    data = ("\ufeffEmail,Name,ID,term\r\n"
            "ada@x.org,\"Lovelace, Ada\",s1,A\r\n"
            "\r\n"
            ",Grace Hopper,s-2.b_3,B\r\n").encode("utf-8")
    path = tmp_path / "class.csv"
    path.write_bytes(data)
    assert read_roster(path) == [Student("s1", "Lovelace, Ada", "ada@x.org"),
                                 Student("s-2.b_3", "Grace Hopper", "")]


def test_roster_without_name_column_uses_the_id_as_display_name():
    students = parse_roster("student_id\nabc\n")
    assert students == [Student("abc")] and students[0].display_name == "abc"


@pytest.mark.parametrize("content, line, message", [
    (b"", 0, "the file is empty"),
    (b"  \n\n", 0, "the file is empty"),
    (b"student_id,name,email\n", 0, "no students"),
    (b"student_id;name;email\ns1;A;a@x\n", 1, "semicolon-separated"),
    (b"student_id\tname\temail\ns1\tA\ta@x\n", 1, "tab-separated"),
    (b"name,email\nA,a@x\n", 1, "'student_id' column"),
    (b"student_id,name,email\ns1,A,a@x\n,B,b@x\n", 3, "missing student id"),
    (b"student_id,name,email\ns1,A,a@x\ns2,B,b@x\ns1,C,c@x\n", 4,
     "duplicate student id 's1' (first on line 2)"),
    (b"student_id,name,email\ns1,A\n", 2, "expected 3 fields"),
    (b"student_id,name,email\nanna b,A,a@x\n", 2, "may only contain letters"),
    (b"student_id,name,email\n../etc,A,a@x\n", 2, "may only contain letters"),
    (b"student_id,name,email\ns1,A,not-an-address\n", 2, "has no '@'"),
    (b"student_id,name,email\ns1,A,a@x\ns2,Jos\xe9,j@x\n", 3, "not UTF-8"),
    (b"student_id,name,email\n" + b"a" * 65 + b",A,a@x\n", 2, "at most 64 are allowed"),
    (b"student_id,name,email\n" + b"x" * 300 + b",A,a@x\n", 2, "300 characters long"),
    (b"student_id,name,email\nAda,A,a@x\nada,B,b@x\n", 3, "only by case"),
    (b"student_id,name,variant\ns1,A,-1\n", 2, "must be a non-negative integer"),
    (b"student_id,name,variant\ns1,A,two\n", 2, "must be a non-negative integer"),
])
def test_bad_roster_is_reported_with_its_line_number(tmp_path, content, line, message):
    path = tmp_path / "roster.csv"
    path.write_bytes(content)
    with pytest.raises(RosterError) as info:
        read_roster(path)
    assert (line, ) == tuple({n for n, m in info.value.problems if message in m})
    assert message in str(info.value) and str(path) in str(info.value)
    if line:
        assert f"line {line}:" in str(info.value)


def test_roster_error_lists_every_problem_at_once():
    text = "student_id,name,email\ns1,A,a@x\n,B,b@x\ns1,C,c@x\nbad id,D,d@x\n"
    with pytest.raises(RosterError) as info:
        parse_roster(text, "class.csv")
    assert [n for n, _ in info.value.problems] == [3, 4, 5]
    assert isinstance(info.value, ValueError)


def test_roster_error_message_is_capped_but_counts_the_rest():
    text = "student_id,name,email\n" + "".join(f",N{i},a@x\n" for i in range(25))
    with pytest.raises(RosterError, match=r"and 5 more") as info:
        parse_roster(text)
    assert len(info.value.problems) == 25


def test_unbalanced_quote_is_a_csv_error_with_its_line():
    with pytest.raises(RosterError, match="malformed CSV"):
        parse_roster('student_id,name,email\ns1,"A,a@x\n', "r.csv")


def test_roster_inputs_of_the_wrong_kind_are_rejected(tmp_path):
    with pytest.raises(TypeError, match="str or bytes"):
        parse_roster(["student_id", "s1"])          # type: ignore[arg-type]
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_roster(tmp_path / "missing.csv")


def test_cli_checks_a_roster(tmp_path):
    good = tmp_path / "good.csv"
    good.write_text("student_id,name,email\ns1,A,a@x\ns2,B,b@x\n")
    res = runner.invoke(app, ["assign", "roster", str(good)])
    assert res.exit_code == 0 and "2 students" in res.output
    bad = tmp_path / "bad.csv"
    bad.write_text("student_id,name,email\ns1,A,a@x\ns1,B,b@x\n")
    res = runner.invoke(app, ["assign", "roster", str(bad)])
    assert res.exit_code == 2 and "line 3" in res.output and "Traceback" not in res.output


def test_generation_from_a_bad_roster_writes_nothing(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"student_id,name,email\ns1,A,a@x\n,B,b@x\n")
    out = tmp_path / "hw"
    res = runner.invoke(app, ["assign", "generate", "--roster", str(bad), "--out", str(out),
                              "--title", "HW", "--seed", str(2 ** 50), "-e", "losses.huber"])
    assert res.exit_code == 2 and "line 3: missing student id" in res.output
    assert not out.exists() and list(tmp_path.iterdir()) == [bad]


def test_the_longest_allowed_id_is_accepted_and_documented():
    from dlnotes.assignments import MAX_ID_LENGTH
    from dlnotes.assignments import roster

    assert MAX_ID_LENGTH == 64 and "MAX_ID_LENGTH" in roster.__doc__
    assert parse_roster("student_id\n" + "a" * 64 + "\n")[0].id == "a" * 64


def test_optional_columns_give_the_variant_and_canvas_identity():
    text = ("student_id,name,Section,SIS User ID,sis_login_id,canvas_id,variant\n"
            "s1,Ada,L01,1001,ada1,77,\ns2,Alan,L02,1002,alan2,78,2\n")
    assert parse_roster(text) == [
        Student("s1", "Ada", "", 0, "L01", "77", "1001", "ada1"),
        Student("s2", "Alan", "", 2, "L02", "78", "1002", "alan2")]


def test_generation_rejects_programmatic_rosters_with_bad_ids(tmp_path):
    from dlnotes.assignments import generate, make_spec

    spec = make_spec("HW", 2 ** 50, ["losses.huber"])
    for roster, message in [([Student("x" * 300)], "at most 64"),
                            ([Student("Ab"), Student("aB")], "except for case"),
                            ([Student("../x")], "may only contain")]:
        with pytest.raises(ValueError, match=message):
            generate(spec, roster, tmp_path / "hw")
        assert not (tmp_path / "hw").exists()


def test_cli_reports_an_overlong_id_with_its_line_not_a_traceback(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("student_id,name,email\ns1,A,a@x\n" + "z" * 300 + ",B,b@x\n")
    for args in (["assign", "roster", str(bad)],
                 ["assign", "generate", "--roster", str(bad), "--out", str(tmp_path / "hw"),
                  "--title", "HW", "--seed", str(2 ** 50), "-e", "losses.huber"]):
        res = runner.invoke(app, args)
        assert res.exit_code == 2 and "line 3:" in res.output and "Traceback" not in res.output
