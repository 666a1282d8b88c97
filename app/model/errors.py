"""The one error type the model layer raises for invalid arguments."""


class ModelError(ValueError):
    """An argument of a model object is invalid; the message names object, argument and fix."""


def bad_arg(owner: str, arg: str, value: object, allowed: str) -> ModelError:
    """Build a ModelError that says which object and argument is wrong and what is allowed."""
    return ModelError(f"{owner}: argument '{arg}' = {value!r} is invalid; {allowed}")
