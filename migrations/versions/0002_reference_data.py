"""reference data: Zhejiang and its cities, authorities, the four dictionaries

Revision ID: 0002_reference_data
Revises: 0001_schema
"""
from alembic import op
import sqlalchemy as sa

revision = "0002_reference_data"
down_revision = "0001_schema"
branch_labels = None
depends_on = None

# GB/T 2260
CITIES = [
    ("330100", "杭州市"), ("330200", "宁波市"), ("330300", "温州市"), ("330400", "嘉兴市"),
    ("330500", "湖州市"), ("330600", "绍兴市"), ("330700", "金华市"), ("330800", "衢州市"),
    ("330900", "舟山市"), ("331000", "台州市"), ("331100", "丽水市"),
]

# Construction trades after JGJ/T 314 and the trades the customer trains for.
OCCUPATIONS = [
    "砌筑工", "钢筋工", "架子工", "混凝土工", "模板工", "防水工", "建筑电工", "焊工",
    "管道工", "木工", "抹灰工", "油漆工", "测量放线工", "建筑起重信号司索工",
    "塔式起重机司机", "施工升降机司机", "物料提升机司机", "安装起重工", "机械设备安装工",
    "通风工", "石工", "镶贴工", "装饰装修木工", "幕墙安装工", "建筑门窗安装工",
    "中小型建筑机械操作工", "桩机操作工", "电梯安装维修工", "古建筑传统木工", "古建筑传统瓦工",
]
LEVELS = ["五级/初级工", "四级/中级工", "三级/高级工", "二级/技师", "一级/高级技师"]
TITLES = ["无", "员级", "助理级", "中级", "副高级", "正高级"]
EDUCATIONS = ["小学", "初中", "高中/中专/技校", "大专", "本科", "研究生及以上"]

DICTIONARIES = [
    ("dict_occupation", "ZY", OCCUPATIONS),
    ("dict_occupation_level", "DJ", LEVELS),
    ("dict_professional_title", "ZC", TITLES),
    ("dict_education", "XL", EDUCATIONS),
]


def _table(name, *columns):
    return sa.table(name, *(sa.column(c) for c in columns))


def upgrade():
    region = _table("region", "code", "name", "parent_code")
    op.bulk_insert(region, [{"code": "330000", "name": "浙江省", "parent_code": None}])
    op.bulk_insert(region, [{"code": c, "name": n, "parent_code": "330000"} for c, n in CITIES])

    authority = _table("authority", "id", "name", "level", "region_code")
    rows = [{"id": 1, "name": "浙江省住房和城乡建设厅", "level": "province", "region_code": "330000"}]
    rows += [
        {"id": i, "name": f"{name}住房和城乡建设局", "level": "city", "region_code": code}
        for i, (code, name) in enumerate(CITIES, start=2)
    ]
    op.bulk_insert(authority, rows)

    for table_name, prefix, values in DICTIONARIES:
        table = _table(table_name, "code", "name", "sort_order", "active")
        op.bulk_insert(table, [
            {"code": f"{prefix}{i:03d}", "name": name, "sort_order": i, "active": True}
            for i, name in enumerate(values, start=1)
        ])
    if op.get_bind().dialect.name == "postgresql":
        # Explicit ids above do not advance the serial sequence.
        op.execute("SELECT setval('authority_id_seq', (SELECT max(id) FROM authority))")


def downgrade():
    for table_name, _prefix, _values in DICTIONARIES:
        op.execute(f"DELETE FROM {table_name}")
    op.execute("DELETE FROM authority")
    op.execute("DELETE FROM region WHERE parent_code IS NOT NULL")
    op.execute("DELETE FROM region")
