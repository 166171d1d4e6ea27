"""All models, imported here so Alembic and the app see one metadata."""
from flask_appbuilder import Model  # noqa: F401

from models.accounts import SmsCode, SmsMessage, StagedUpload  # noqa: F401
from models.assessment import (  # noqa: F401
    AdmissionTicket,
    AssessmentPlan,
    Certificate,
    CertificateSequence,
    Score,
    ScoreReport,
)
from models.audit import AuditLog  # noqa: F401
from models.enrolment import Enrolment, ImportBatch, Person  # noqa: F401
from models.exports import ErrorWorkbook, Export  # noqa: F401
from models.notifications import Message, TraineeNotice  # noqa: F401
from models.orders import Invoice, Order, OrderItem, PaymentNotice  # noqa: F401
from models.organisation import Enterprise, Institution  # noqa: F401
from models.reference import (  # noqa: F401
    DICTIONARIES,
    Authority,
    Education,
    Occupation,
    OccupationLevel,
    ProfessionalTitle,
    Region,
)
from models.training import TrainingPlan  # noqa: F401
from models.user import JianpeiUser  # noqa: F401
