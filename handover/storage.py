"""Write-once storage for the archived confirmations.

A name that exists is refused, never replaced and never renamed to a neighbour: a second
archive of the same handover fails loudly instead of quietly sitting beside the first.
Files are written read-only, and the storage refuses to delete them.
"""

from django.core.files.storage import FileSystemStorage
from django.core.files.utils import validate_file_name


class WriteOnceStorage(FileSystemStorage):
    def __init__(self, **kwargs):
        kwargs.setdefault("file_permissions_mode", 0o444)
        super().__init__(allow_overwrite=False, **kwargs)

    def get_available_name(self, name, max_length=None):
        name = str(name).replace("\\", "/")
        validate_file_name(name, allow_relative_path=True)
        if max_length is not None and len(name) > max_length:
            raise ValueError(f"{name} is longer than {max_length} characters")
        if self.exists(name):
            raise FileExistsError(f"{name} exists and is never overwritten")
        return name

    def delete(self, name):
        raise PermissionError(f"{name} is archived and is never deleted")


def archive_storage() -> WriteOnceStorage:
    # A callable, so MEDIA_ROOT is read when used (tests point it at a temporary directory).
    return WriteOnceStorage()
