"""The core's argument checkers (nplab._checks): what they accept, what they return, and
that every refusal names the argument."""

import math

import numpy as np
import pytest

from nplab._checks import (
    check_choice,
    check_float_array,
    check_float_dtype,
    check_int,
    check_number,
    check_real,
    check_vector,
)


def test_check_int_accepts_numpy_ints_and_refuses_bools_floats_and_small_values():
    assert check_int("n", np.int64(3)) == 3 and type(check_int("n", np.int64(3))) is int
    assert check_int("pad", 0, 0) == 0
    for bad in (True, 2.0, "2", 0):
        with pytest.raises(ValueError, match=r"^n must be an int >= 1"):
            check_int("n", bad)


def test_check_number_is_finite_and_non_negative_or_positive():
    assert check_number("reg", 0) == 0.0
    assert check_number("lr", np.float32(0.5), positive=True) == 0.5
    for bad in (-1e-9, math.inf, math.nan, False, "1"):
        with pytest.raises(ValueError, match=r"^reg must be"):
            check_number("reg", bad)
    with pytest.raises(ValueError, match=r"^lr must be a finite number > 0"):
        check_number("lr", 0.0, positive=True)


def test_check_real_takes_either_sign_within_its_closed_range():
    assert check_real("fill", -3) == -3.0
    assert check_real("p", 0.0, 0.0, 1.0) == 0.0 and check_real("p", 1, 0.0, 1.0) == 1.0
    with pytest.raises(ValueError, match=r"^p must be in \[0, 1\], got 1.5"):
        check_real("p", 1.5, 0.0, 1.0)
    with pytest.raises(ValueError, match=r"^p must be a number"):
        check_real("p", np.bool_(True))


def test_float_array_and_vector_checks_keep_the_callers_dtype():
    x = np.zeros((2, 3), dtype=np.float32)
    assert check_float_array("x", x) is x
    with pytest.raises(ValueError, match=r"^x must be a floating array, got dtype int64"):
        check_float_array("x", np.zeros(3, dtype=np.int64))
    g = check_vector("gamma", [1.0, 2.0], 2)
    assert g.dtype == np.float64 and g.shape == (2,)
    with pytest.raises(ValueError, match=r"^gamma must have shape \(3,\), got \(2,\)"):
        check_vector("gamma", g, 3)


def test_choice_and_dtype_checks():
    assert check_choice("norm", "batch", {"batch": 1, "none": 0}) == "batch"
    with pytest.raises(ValueError, match=r"^norm must be one of \['batch', 'none'\]"):
        check_choice("norm", [1], {"batch": 1, "none": 0})
    assert check_float_dtype("float32") == np.float32
    with pytest.raises(ValueError, match=r"^dtype must be a floating dtype, got int32"):
        check_float_dtype(np.int32)
