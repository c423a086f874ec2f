"""Column shapes shared by the models."""

from datetime import datetime
from typing import Annotated

from sqlalchemy import BigInteger, DateTime, Identity, func
from sqlalchemy.orm import mapped_column

# Surrogate keys: bigint identity, so no table ever runs out of ids.
BigIntPk = Annotated[int, mapped_column(BigInteger, Identity(), primary_key=True)]

# Timestamps are set by the database clock at write time, never at import time.
CreatedAt = Annotated[datetime, mapped_column(DateTime(timezone=True), server_default=func.now())]
UpdatedAt = Annotated[
    datetime,
    mapped_column(DateTime(timezone=True), server_default=func.now(), onupdate=func.now()),
]
