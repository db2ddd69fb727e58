"""MATLAB reader: v5 and v7.3 give the same shapes; clear errors on bad files."""

import numpy as np
import pytest
import scipy.io

from ecgemotion.errors import DataError
from ecgemotion.io.matfile import as_cells, is_mat73, list_variables, load_mat
from tests.fixtures.emotion_layouts import cell, truncate, write_mat73


def _variables():
    trials = cell([np.arange(12.0).reshape(4, 3), np.zeros((0, 0)), np.ones((2, 3))])
    return {
        "joined": trials,
        "S": {"name": "abc", "rate": 256.0, "vec": np.arange(5.0), "col": np.arange(3.0)[:, None],
              "inner": {"flag": np.array([True, False])}, "cells": cell(["x", "yz"], column=True)},
        "structs": cell([{"a": 1.0}, {"a": 2.0}]),
        "mat": np.arange(6.0).reshape(2, 3),
        "scalar": 3.5,
        "text": "hello",
        "ints": np.array([[1, 2, 3]], dtype=np.int16),
    }


@pytest.mark.parametrize("fmt", ["v5", "v7.3"])
def test_both_versions_give_simplify_cells_shapes(tmp_path, fmt):
    path = tmp_path / "x.mat"
    if fmt == "v5":
        scipy.io.savemat(str(path), _variables())
    else:
        write_mat73(path, _variables())
    assert is_mat73(path) == (fmt == "v7.3")
    d = load_mat(path)
    assert set(d) == set(_variables())
    j = as_cells(d["joined"])
    assert [np.shape(x) for x in j] == [(4, 3), (0,), (2, 3)]
    np.testing.assert_array_equal(j[0], np.arange(12.0).reshape(4, 3))  # MATLAB orientation
    assert d["S"]["name"] == "abc" and d["S"]["rate"] == 256.0
    assert d["S"]["vec"].shape == (5,) and d["S"]["col"].shape == (3,)
    assert list(d["S"]["inner"]["flag"]) == [True, False]
    assert list(as_cells(d["S"]["cells"])) == ["x", "yz"]
    assert d["structs"] == [{"a": 1.0}, {"a": 2.0}]
    np.testing.assert_array_equal(d["mat"], np.arange(6.0).reshape(2, 3))
    assert d["scalar"] == 3.5 and d["text"] == "hello"
    np.testing.assert_array_equal(d["ints"], [1, 2, 3])


@pytest.mark.parametrize("fmt", ["v5", "v7.3"])
def test_missing_variable_names_what_was_found(tmp_path, fmt):
    path = tmp_path / "x.mat"
    variables = {"a": 1.0, "b": np.ones(3), "c": "x"}
    scipy.io.savemat(str(path), variables) if fmt == "v5" else write_mat73(path, variables)
    with pytest.raises(DataError) as err:
        load_mat(path, ["joined_data"])
    assert str(err.value) == f"{path}: expected variable 'joined_data', found: a, b, c"
    assert load_mat(path, ["b"]).keys() == {"b"}
    assert list_variables(path) == ["a", "b", "c"]


@pytest.mark.parametrize("fmt", ["v5", "v7.3"])
def test_truncated_file_is_a_data_error(tmp_path, fmt):
    path = tmp_path / "x.mat"
    variables = {"big": np.random.default_rng(0).standard_normal((2000, 17))}
    scipy.io.savemat(str(path), variables) if fmt == "v5" else write_mat73(path, variables)
    truncate(path, 0.5)
    with pytest.raises(DataError, match="not a readable MATLAB file"):
        load_mat(path)


def test_not_a_mat_file_and_empty_file(tmp_path):
    text = tmp_path / "notes.mat"
    text.write_text("this is not a MATLAB file at all, just some text\n" * 5)
    with pytest.raises(DataError, match="notes.mat: not a readable MATLAB file"):
        load_mat(text)
    empty = tmp_path / "empty.mat"
    empty.write_bytes(b"")
    with pytest.raises(DataError, match="empty file"):
        load_mat(empty)
    with pytest.raises(DataError, match="cannot read file"):
        load_mat(tmp_path / "missing.mat")


def test_as_cells_accepts_squeezed_single_cells():
    assert as_cells({"a": 1}) == [{"a": 1}]
    assert as_cells([1, 2]) == [1, 2]
    assert len(as_cells(cell([np.ones(2), np.ones(3)]))) == 2
    assert as_cells(None) == []
