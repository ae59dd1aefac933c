from pathlib import PurePath

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from .importer import human_size


class ClientBookImportForm(forms.Form):
    file = forms.FileField(label=_("Client book (.xlsx or .csv)"))
    dry_run = forms.BooleanField(label=_("Only check the file, do not import"), required=False)

    def clean_file(self):
        upload = self.cleaned_data["file"]
        # Refuse before reading: the importer holds the whole file in memory.
        if upload.size > settings.IMPORT_MAX_BYTES:
            raise forms.ValidationError(
                _("The file is %(size)s; files larger than %(limit)s are refused. Split it into smaller files."),
                code="too_large",
                params={"size": human_size(upload.size), "limit": human_size(settings.IMPORT_MAX_BYTES)},
            )
        if PurePath(upload.name).suffix.lower() not in {".xlsx", ".csv"}:
            raise forms.ValidationError(
                _("Only .xlsx (Excel workbook) and .csv files can be imported; “%(name)s” is neither."),
                code="extension",
                params={"name": upload.name},
            )
        return upload
