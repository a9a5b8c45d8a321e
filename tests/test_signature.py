"""``takes_options_of``: the combined signature, the call and the errors read as if the
shared options were written out by hand."""

from __future__ import annotations

import inspect

import pytest

from snnbench._signature import takes_options_of


class Base:
    def __init__(self, shape: int, *, a: float = 1.0, b: str = "x", c: bool = False) -> None:
        self.got = dict(shape=shape, a=a, b=b, c=c)


class Child(Base):
    @takes_options_of(Base.__init__, drop=("c",), after="shape", defaults={"b": "y"})
    def __init__(self, shape: int, *, extra: int = 3, **options) -> None:
        super().__init__(shape, **options)
        self.extra = extra


class Written(Base):  # what Child stands for, written by hand
    def __init__(self, shape: int, *, a: float = 1.0, b: str = "y", extra: int = 3) -> None:
        super().__init__(shape, a=a, b=b)


def test_signature_is_the_written_one():
    assert str(inspect.signature(Child.__init__)) == str(inspect.signature(Written.__init__))


def test_call_gets_every_shared_default_and_value():
    assert Child(2).got == dict(shape=2, a=1.0, b="y", c=False)
    obj = Child(shape=4, a=0.5, extra=7)
    assert obj.got == dict(shape=4, a=0.5, b="y", c=False) and obj.extra == 7


@pytest.mark.parametrize("args, kwargs", [((), {}), ((1, 2), {}), ((1,), {"c": True}),
                                          ((1,), {"shape": 2})])
def test_errors_are_pythons_own(args, kwargs):
    with pytest.raises(TypeError) as want:
        Written(*args, **kwargs)
    with pytest.raises(TypeError) as got:
        Child(*args, **kwargs)
    assert str(got.value) == str(want.value).replace("Written", "Child")


def test_positional_shared_options_keep_their_place():
    def source(self, x, y=1, z=2): ...

    @takes_options_of(source, positional=True, after="x")
    def f(self, x, w=0, **options):
        return x, w, options

    assert str(inspect.signature(f)) == "(self, x, y=1, z=2, w=0)"
    assert f(None, 5, 6, 7, 8) == (5, 8, {"y": 6, "z": 7})


def test_misuse_fails_at_decoration():
    with pytest.raises(TypeError, match="must take \\*\\*options"):
        takes_options_of(Base.__init__)(lambda self, shape: None)
    with pytest.raises(TypeError, match="not shared"):
        takes_options_of(Base.__init__, defaults={"nope": 1})(lambda self, **o: None)


def test_rest_collects_the_unnamed_keywords():
    @takes_options_of(Base.__init__, rest="arch")
    def f(self, *, arch: int, **options):
        return arch, options

    assert str(inspect.signature(f)) == (
        "(self, *, shape: 'int', a: 'float' = 1.0, b: 'str' = 'x', c: 'bool' = False, **arch: 'int')")
    assert f(None, shape=1, width=2) == ({"width": 2}, {"shape": 1, "a": 1.0, "b": "x", "c": False})


def test_decorators_stack_and_the_function_gets_every_option():
    def first(self, *, a: int = 1, b: int = 2): ...

    def second(self, c: int = 3): ...

    @takes_options_of(second, positional=True, after="x")
    @takes_options_of(first)
    def f(self, x, y=0, **options):
        return x, y, options

    assert str(inspect.signature(f)) == "(self, x, c: 'int' = 3, y=0, *, a: 'int' = 1, b: 'int' = 2)"
    assert f(None, 1, 5, 6, b=7) == (1, 6, {"a": 1, "b": 7, "c": 5})
