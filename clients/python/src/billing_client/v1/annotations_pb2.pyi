from google.protobuf import descriptor_pb2 as _descriptor_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor
REQUIRED_SCOPE_FIELD_NUMBER: _ClassVar[int]
required_scope: _descriptor.FieldDescriptor
FIELD_FIELD_NUMBER: _ClassVar[int]
field: _descriptor.FieldDescriptor

class FieldLimits(_message.Message):
    __slots__ = ("max_length", "max_items", "max_key_length", "max_abs")
    MAX_LENGTH_FIELD_NUMBER: _ClassVar[int]
    MAX_ITEMS_FIELD_NUMBER: _ClassVar[int]
    MAX_KEY_LENGTH_FIELD_NUMBER: _ClassVar[int]
    MAX_ABS_FIELD_NUMBER: _ClassVar[int]
    max_length: int
    max_items: int
    max_key_length: int
    max_abs: int
    def __init__(self, max_length: _Optional[int] = ..., max_items: _Optional[int] = ..., max_key_length: _Optional[int] = ..., max_abs: _Optional[int] = ...) -> None: ...
