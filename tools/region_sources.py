"""Hand-written inputs of ``tools/build_region_tables.py``: codes, names, locations, small published tables.

Every number here carries its source next to it. Nothing in eco_magic imports this file; the build script does.
"""
from __future__ import annotations

# ---------------------------------------------------------------------------------------------------
# ISO 3166 codes for the 213 OWID entries (ISO3 as OWID keys them -> ISO2), written by hand.
ISO3_TO_ISO2 = {
    "ABW": "AW", "AFG": "AF", "AGO": "AO", "ALB": "AL", "ARE": "AE", "ARG": "AR", "ARM": "AM", "ASM": "AS",
    "ATG": "AG", "AUS": "AU", "AUT": "AT", "AZE": "AZ", "BDI": "BI", "BEL": "BE", "BEN": "BJ", "BFA": "BF",
    "BGD": "BD", "BGR": "BG", "BHR": "BH", "BHS": "BS", "BIH": "BA", "BLR": "BY", "BLZ": "BZ", "BMU": "BM",
    "BOL": "BO", "BRA": "BR", "BRB": "BB", "BRN": "BN", "BTN": "BT", "BWA": "BW", "CAF": "CF", "CAN": "CA",
    "CHE": "CH", "CHL": "CL", "CHN": "CN", "CIV": "CI", "CMR": "CM", "COD": "CD", "COG": "CG", "COK": "CK",
    "COL": "CO", "COM": "KM", "CPV": "CV", "CRI": "CR", "CUB": "CU", "CYM": "KY", "CYP": "CY", "CZE": "CZ",
    "DEU": "DE", "DJI": "DJ", "DMA": "DM", "DNK": "DK", "DOM": "DO", "DZA": "DZ", "ECU": "EC", "EGY": "EG",
    "ERI": "ER", "ESH": "EH", "ESP": "ES", "EST": "EE", "ETH": "ET", "FIN": "FI", "FJI": "FJ", "FLK": "FK",
    "FRA": "FR", "FRO": "FO", "GAB": "GA", "GBR": "GB", "GEO": "GE", "GHA": "GH", "GIB": "GI", "GIN": "GN",
    "GLP": "GP", "GMB": "GM", "GNB": "GW", "GNQ": "GQ", "GRC": "GR", "GRD": "GD", "GRL": "GL", "GTM": "GT",
    "GUF": "GF", "GUM": "GU", "GUY": "GY", "HKG": "HK", "HND": "HN", "HRV": "HR", "HTI": "HT", "HUN": "HU",
    "IDN": "ID", "IND": "IN", "IRL": "IE", "IRN": "IR", "IRQ": "IQ", "ISL": "IS", "ISR": "IL", "ITA": "IT",
    "JAM": "JM", "JOR": "JO", "JPN": "JP", "KAZ": "KZ", "KEN": "KE", "KGZ": "KG", "KHM": "KH", "KIR": "KI",
    "KNA": "KN", "KOR": "KR", "KWT": "KW", "LAO": "LA", "LBN": "LB", "LBR": "LR", "LBY": "LY", "LCA": "LC",
    "LKA": "LK", "LSO": "LS", "LTU": "LT", "LUX": "LU", "LVA": "LV", "MAC": "MO", "MAR": "MA", "MDA": "MD",
    "MDG": "MG", "MDV": "MV", "MEX": "MX", "MKD": "MK", "MLI": "ML", "MLT": "MT", "MMR": "MM", "MNE": "ME",
    "MNG": "MN", "MOZ": "MZ", "MRT": "MR", "MSR": "MS", "MTQ": "MQ", "MUS": "MU", "MWI": "MW", "MYS": "MY",
    "NAM": "NA", "NCL": "NC", "NER": "NE", "NGA": "NG", "NIC": "NI", "NLD": "NL", "NOR": "NO", "NPL": "NP",
    "NRU": "NR", "NZL": "NZ", "OMN": "OM", "PAK": "PK", "PAN": "PA", "PER": "PE", "PHL": "PH", "PNG": "PG",
    "POL": "PL", "PRI": "PR", "PRK": "KP", "PRT": "PT", "PRY": "PY", "PSE": "PS", "PYF": "PF", "QAT": "QA",
    "REU": "RE", "ROU": "RO", "RUS": "RU", "RWA": "RW", "SAU": "SA", "SDN": "SD", "SEN": "SN", "SGP": "SG",
    "SHN": "SH", "SLB": "SB", "SLE": "SL", "SLV": "SV", "SOM": "SO", "SPM": "PM", "SRB": "RS", "SSD": "SS",
    "STP": "ST", "SUR": "SR", "SVK": "SK", "SVN": "SI", "SWE": "SE", "SWZ": "SZ", "SYC": "SC", "SYR": "SY",
    "TCA": "TC", "TCD": "TD", "TGO": "TG", "THA": "TH", "TJK": "TJ", "TKM": "TM", "TLS": "TL", "TON": "TO",
    "TTO": "TT", "TUN": "TN", "TUR": "TR", "TWN": "TW", "TZA": "TZ", "UGA": "UG", "UKR": "UA", "URY": "UY",
    "USA": "US", "UZB": "UZ", "VCT": "VC", "VEN": "VE", "VGB": "VG", "VIR": "VI", "VNM": "VN", "VUT": "VU",
    "WSM": "WS", "YEM": "YE", "ZAF": "ZA", "ZMB": "ZM", "ZWE": "ZW",
}

# Other names people type (official names, former names, endonyms, common abbreviations), by ISO2.
ALIASES = {
    "AE": ["UAE", "Emirates"],
    "BA": ["Bosnia"],
    "BN": ["Brunei Darussalam"],
    "BO": ["Plurinational State of Bolivia"],
    "BS": ["The Bahamas"],
    "CD": ["DR Congo", "DRC", "Democratic Republic of the Congo", "Congo-Kinshasa"],
    "CG": ["Republic of the Congo", "Congo-Brazzaville", "Congo Republic"],
    "CH": ["Schweiz", "Suisse", "Svizzera"],
    "CI": ["Côte d'Ivoire", "Ivory Coast"],
    "CN": ["People's Republic of China", "PRC", "Mainland China"],
    "CV": ["Cabo Verde"],
    "CZ": ["Czech Republic"],
    "DE": ["Deutschland"],
    "DK": ["Danmark"],
    "ES": ["España"],
    "FI": ["Suomi"],
    "FK": ["Falklands"],
    "GB": ["UK", "U.K.", "Great Britain", "Britain", "United Kingdom of Great Britain and Northern Ireland",
           "England", "Scotland", "Wales", "Northern Ireland"],
    "GM": ["The Gambia"],
    "HK": ["Hong Kong SAR"],
    "IR": ["Islamic Republic of Iran"],
    "IT": ["Italia"],
    "KP": ["DPRK", "Democratic People's Republic of Korea"],
    "KR": ["Korea", "Republic of Korea", "Korea, Republic of", "ROK"],
    "LA": ["Lao PDR", "Lao People's Democratic Republic"],
    "MD": ["Republic of Moldova"],
    "MK": ["Macedonia"],
    "MM": ["Burma"],
    "MO": ["Macau"],
    "NL": ["Holland", "The Netherlands", "Nederland"],
    "NO": ["Norge"],
    "PL": ["Polska"],
    "PS": ["State of Palestine", "Palestinian Territories"],
    "RE": ["Réunion"],
    "RU": ["Russian Federation"],
    "SE": ["Sverige"],
    "ST": ["São Tomé and Príncipe"],
    "SY": ["Syrian Arab Republic"],
    "SZ": ["Swaziland"],
    "TL": ["Timor-Leste"],
    "TR": ["Türkiye", "Turkiye"],
    "TW": ["Chinese Taipei"],
    "TZ": ["United Republic of Tanzania"],
    "US": ["USA", "U.S.", "U.S.A.", "United States of America", "America"],
    "VE": ["Bolivarian Republic of Venezuela"],
    "VI": ["US Virgin Islands"],
    "VN": ["Viet Nam"],
    "AT": ["Österreich"],
}

# ---------------------------------------------------------------------------------------------------
US_STATES = {
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California",
    "CO": "Colorado", "CT": "Connecticut", "DE": "Delaware", "DC": "District of Columbia",
    "FL": "Florida", "GA": "Georgia", "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois", "IN": "Indiana",
    "IA": "Iowa", "KS": "Kansas", "KY": "Kentucky", "LA": "Louisiana", "ME": "Maine", "MD": "Maryland",
    "MA": "Massachusetts", "MI": "Michigan", "MN": "Minnesota", "MS": "Mississippi", "MO": "Missouri",
    "MT": "Montana", "NE": "Nebraska", "NV": "Nevada", "NH": "New Hampshire", "NJ": "New Jersey",
    "NM": "New Mexico", "NY": "New York", "NC": "North Carolina", "ND": "North Dakota", "OH": "Ohio",
    "OK": "Oklahoma", "OR": "Oregon", "PA": "Pennsylvania", "RI": "Rhode Island", "SC": "South Carolina",
    "SD": "South Dakota", "TN": "Tennessee", "TX": "Texas", "UT": "Utah", "VT": "Vermont",
    "VA": "Virginia", "WA": "Washington", "WV": "West Virginia", "WI": "Wisconsin", "WY": "Wyoming",
}
STATE_ALIASES = {"DC": ["Washington DC", "Washington, D.C.", "D.C."]}

# ---------------------------------------------------------------------------------------------------
# Cloud regions. Locations are the providers' published region locations; grid_code is the grid whose
# carbon intensity stands in for AWS and Azure (they publish no per-region figure).
PUE_BY_PROVIDER = {
    "aws": (1.15, "AWS global PUE 2024 (via ComputerWeekly summary, third-party)"),
    "gcp": (1.10, "Google fleet PUE ~1.10 (2021, via CNBC 2022, third-party)"),
    "azure": (1.17, "Microsoft owned data centres PUE FY2025 (via ComputerWeekly summary, third-party)"),
}
# The finest grid each region sits on: a US state, Canadian province, Nordic bidding zone or Chinese province
# where eco_magic has one, else the country. Where a region's site straddles a border, the coarser grid is kept
# and the comment says why.
AWS_REGIONS = [
    ("us-east-1", "N. Virginia", "US-VA"), ("us-east-2", "Ohio", "US-OH"),
    ("us-west-1", "N. California", "US-CA"), ("us-west-2", "Oregon", "US-OR"),
    ("us-gov-east-1", "GovCloud, Ohio", "US-OH"), ("us-gov-west-1", "GovCloud, Oregon", "US-OR"),
    ("ca-central-1", "Canada Central, Montreal", "CA-QC"), ("ca-west-1", "Calgary", "CA-AB"),
    ("eu-west-1", "Ireland", "IE"), ("eu-west-2", "London", "GB"), ("eu-west-3", "Paris", "FR"),
    ("eu-central-1", "Frankfurt", "DE"), ("eu-central-2", "Zurich", "CH"),
    ("eu-north-1", "Stockholm", "SE3"),  # Stockholm lies in bidding zone SE3
    ("eu-south-1", "Milan", "IT"), ("eu-south-2", "Spain, Aragon", "ES"),
    ("ap-south-1", "Mumbai", "IN"), ("ap-south-2", "Hyderabad", "IN"),
    ("ap-northeast-1", "Tokyo", "JP"), ("ap-northeast-2", "Seoul", "KR"), ("ap-northeast-3", "Osaka", "JP"),
    ("ap-southeast-1", "Singapore", "SG"), ("ap-southeast-2", "Sydney", "AU"),
    ("ap-southeast-3", "Jakarta", "ID"), ("ap-southeast-4", "Melbourne", "AU"),
    ("ap-southeast-5", "Malaysia", "MY"), ("ap-southeast-7", "Thailand", "TH"),
    ("ap-east-1", "Hong Kong", "HK"), ("sa-east-1", "Sao Paulo", "BR"),
    ("me-south-1", "Bahrain", "BH"), ("me-central-1", "UAE", "AE"), ("af-south-1", "Cape Town", "ZA"),
    ("il-central-1", "Tel Aviv", "IL"), ("mx-central-1", "Mexico, Queretaro", "MX"),
    ("cn-north-1", "Beijing (operated by Sinnet)", "CN-BJ"),
    ("cn-northwest-1", "Ningxia (operated by NWCD)", "CN-NX"),
]
AZURE_REGIONS = [
    ("eastus", "Virginia", "US-VA"), ("eastus2", "Virginia", "US-VA"), ("centralus", "Iowa", "US-IA"),
    ("northcentralus", "Illinois", "US-IL"), ("southcentralus", "Texas", "US-TX"),
    ("westcentralus", "Wyoming", "US-WY"), ("westus", "California", "US-CA"),
    ("westus2", "Washington", "US-WA"), ("westus3", "Arizona", "US-AZ"),
    ("usgovvirginia", "US Gov Virginia", "US-VA"), ("usgovarizona", "US Gov Arizona", "US-AZ"),
    ("usgovtexas", "US Gov Texas", "US-TX"),
    ("canadacentral", "Toronto", "CA-ON"), ("canadaeast", "Quebec City", "CA-QC"),
    ("brazilsouth", "Sao Paulo State", "BR"), ("brazilsoutheast", "Rio de Janeiro", "BR"),
    ("northeurope", "Ireland", "IE"),
    ("westeurope", "Netherlands", "NL"), ("uksouth", "London", "GB"), ("ukwest", "Cardiff", "GB"),
    ("francecentral", "Paris", "FR"), ("francesouth", "Marseille", "FR"),
    ("germanywestcentral", "Frankfurt", "DE"), ("germanynorth", "Berlin", "DE"),
    ("switzerlandnorth", "Zurich", "CH"), ("switzerlandwest", "Geneva", "CH"),
    ("norwayeast", "Oslo", "NO1"),  # Oslo: bidding zone NO1
    ("norwaywest", "Stavanger", "NO2"),  # Stavanger: bidding zone NO2
    ("swedencentral", "Gavle", "SE"),  # Gavle/Sandviken: county split between SE2 and SE3, country grid kept
    ("swedensouth", "Malmo", "SE4"),  # Malmo: bidding zone SE4
    ("polandcentral", "Warsaw", "PL"), ("italynorth", "Milan", "IT"), ("spaincentral", "Madrid", "ES"),
    ("eastasia", "Hong Kong", "HK"), ("southeastasia", "Singapore", "SG"), ("japaneast", "Tokyo", "JP"),
    ("japanwest", "Osaka", "JP"), ("koreacentral", "Seoul", "KR"), ("koreasouth", "Busan", "KR"),
    ("centralindia", "Pune", "IN"), ("southindia", "Chennai", "IN"), ("westindia", "Mumbai", "IN"),
    ("australiaeast", "New South Wales", "AU"), ("australiasoutheast", "Victoria", "AU"),
    ("australiacentral", "Canberra", "AU"),
    ("uaenorth", "Dubai", "AE"), ("uaecentral", "Abu Dhabi", "AE"),
    ("southafricanorth", "Johannesburg", "ZA"), ("southafricawest", "Cape Town", "ZA"),
    ("qatarcentral", "Doha", "QA"), ("israelcentral", "Israel", "IL"), ("mexicocentral", "Queretaro", "MX"),
    ("chinaeast", "Shanghai (operated by 21Vianet)", "CN-SH"),
    ("chinaeast2", "Shanghai (operated by 21Vianet)", "CN-SH"),
    ("chinaeast3", "Shanghai (operated by 21Vianet)", "CN-SH"),
    ("chinanorth", "Beijing (operated by 21Vianet)", "CN-BJ"),
    ("chinanorth2", "Beijing (operated by 21Vianet)", "CN-BJ"),
    ("chinanorth3", "Hebei (operated by 21Vianet)", "CN-HE"),
]
# GCP location -> grid code, for the regions CodeCarbon's impact.csv lists (its state column is sparse).
# The carbon intensity of a GCP region is Google's own figure; the grid code serves the water fallback chain.
GCP_GRID = {
    "us-central1": "US-IA", "us-east1": "US-SC", "us-east4": "US-VA", "us-east5": "US-OH",
    "us-south1": "US-TX", "us-west1": "US-OR", "us-west2": "US-CA", "us-west3": "US-UT", "us-west4": "US-NV",
    "northamerica-northeast1": "CA-QC",  # Montreal
    "northamerica-northeast2": "CA-ON",  # Toronto
    "asia-east2": "HK",  # CodeCarbon files Hong Kong under CHN; the grid is Hong Kong's own
}
GCP_REGION_FIXES = {"me-cenrtal1": "me-central1"}  # a typo in CodeCarbon's impact.csv

# ---------------------------------------------------------------------------------------------------
# Water, the paper's model: ML-EcoLyzer reference table (JomaMinoza/ml-ecolyzer@b430c47,
# mlecolyzer/monitoring/hardware.py `_detect_water_intensity_factor`), L/kWh. The reference code gives no
# primary citation for these values. Region -> codes is eco_magic's mapping.
MLECO = "ML-EcoLyzer reference table"
ML_ECOLYZER_WATER = [
    ("iceland", 1.2, ["IS"]),
    ("costa_rica", 1.4, ["CR"]),
    # its comment: "Norway, Sweden, Denmark". This table has no Norway row of its own: the "norway" 1.4 of
    # ML-EcoLyzer's other table (utils/water_utilities.py `water_intensity_lookup`) is not the one cited here.
    ("scandinavia", 1.5, ["NO", "SE", "DK"]),
    ("new_zealand", 1.6, ["NZ"]),
    ("switzerland", 1.8, ["CH"]),
    ("brazil", 2.0, ["BR"]),
    ("canada", 2.1, ["CA"]),
    ("france", 2.2, ["FR"]),
    ("uk", 2.5, ["GB"]),
    ("germany", 2.8, ["DE"]),
    ("japan", 3.1, ["JP"]),
    ("south_korea", 3.3, ["KR"]),
    ("india", 3.9, ["IN"]),
    ("australia", 4.1, ["AU"]),
    ("china_north", 4.5, ["CN"]),  # applied to the whole country: the only Chinese row
    ("middle_east", 4.8, ["AE", "BH", "IL", "IQ", "IR", "JO", "KW", "LB", "OM", "PS", "QA", "SA", "SY", "YE"]),
    ("us_east", 3.2, ["US"]),  # the reference code picks us_east for any en_US locale
    ("us_east", 3.2, ["US-" + s for s in ("ME", "NH", "MA", "RI", "CT", "NY", "NJ", "DE", "MD", "DC", "VA",
                                          "NC", "SC", "GA", "FL")]),  # "US East Coast": Atlantic states
    ("us_central", 3.0, ["US-" + s for s in ("AL", "AR", "IL", "IA", "KS", "LA", "MN", "MS", "MO", "NE",
                                             "ND", "OK", "SD", "TN", "WI")]),  # "US Central states"
    ("us_texas", 3.8, ["US-TX"]),
    ("us_southwest", 4.2, ["US-AZ", "US-NV", "US-CA"]),  # its comment: "Arizona, Nevada, California"
]
WATER_GLOBAL_DEFAULT = 2.5  # ML-EcoLyzer "global_average"


def cloud_water(provider: str, region: str) -> tuple[str, float] | None:
    """ML-EcoLyzer's cloud rows, matched the way its `_detect_cloud_region` matches region names."""
    if provider == "aws":
        if region.startswith("us-west"):
            return "aws_us_west", 3.5
        if region.startswith("us-east"):
            return "aws_us_east", 3.0
        if region.startswith("eu-"):
            return "aws_eu_west", 2.3
    if provider == "azure" and "europe" in region:
        return "azure_europe", 2.4
    if provider == "gcp":
        if region.startswith("us-"):
            return "gcp_us", 3.2
        if region.startswith("europe-"):
            return "gcp_europe", 2.2
    return None


# Water, the Li et al. model ("Making AI Less Thirsty", CACM 68(7) 2025, Table 1): PUE, WUE_site (L/kWh),
# EWIF (L/kWh). Transcribed by a third party (EcoGenAI app.py comments); not yet checked against the paper.
LI_TABLE_SOURCE = "Li et al. 2025 Table 1 '{}' (third-party transcription, unverified)"
LI_TABLE1 = [
    ("US-VA", "Virginia", 1.14, 0.14, 2.385),
    ("US-TX", "Texas", 1.28, 0.25, 1.287),
    ("US-GA", "Georgia", 1.12, 0.06, 2.309),
    ("US-IL", "Illinois", 1.35, 0.74, 2.233),
    ("US-IA", "Iowa", 1.16, 0.14, 3.104),
    ("US-AZ", "Arizona", 1.18, 1.63, 4.959),
    ("US-WY", "Wyoming", 1.11, 0.13, 2.574),
    ("IE", "Ireland", 1.19, 0.02, 1.476),
    ("NL", "Netherlands", 1.14, 0.06, 3.445),
    ("SE", "Sweden", 1.16, 0.09, 6.019),
    ("DK", "Denmark", 1.16, 0.01, 3.180),
    ("FI", "Finland", 1.12, 0.01, 4.542),
    ("IN", "India", 1.43, 0.00, 3.445),
    ("ID", "Indonesia", 1.32, 1.90, 2.271),
    ("MX", "Mexico", 1.12, 0.056, 5.300),
]
# PUE, WUE_site, EWIF of Li et al.'s U.S. average (Microsoft's U.S. data centres; arXiv 2304.03271): the row behind
# their GPT-3 example, 1,287 MWh -> 0.708 ML on-site + 4.731 ML off-site = 5.439 ML ("700,000 litres", "5.4 ML").
LI_US_AVERAGE = (1.17, 0.55, 3.142)

# ---------------------------------------------------------------------------------------------------
PUE_TIERS = [
    ("cpu_only", "tier", 1.1, 2025, "ML-EcoLyzer paper (arXiv 2511.06694), Eq. 2 tier: CPU-only"),
    ("consumer_gpu", "tier", 1.2, 2025, "ML-EcoLyzer paper (arXiv 2511.06694), Eq. 2 tier: consumer GPU"),
    ("datacenter_gpu", "tier", 1.4, 2025, "ML-EcoLyzer paper (arXiv 2511.06694), Eq. 2 tier: datacenter GPU"),
    ("hyperscale", "preset", 1.1, 2024,
     "hyperscaler fleet averages 1.09-1.17 (Google ~1.10, AWS 1.15 in 2024, Microsoft 1.17 FY2025)"),
    ("industry", "preset", 1.56, 2024,
     "Uptime Institute Global Data Center Survey 2024, average annual PUE (via Statista summary)"),
]




# ---------------------------------------------------------------------------------------------------
# Sub-national grids. Values come from CodeCarbon 3.3.2's data files (read by the build script); here are the
# codes, names and the published sources CodeCarbon cites for them.
CANADA_SOURCE = (
    "Canada Energy Regulator, Canada's Energy Future 2023 data appendices (doi:10.35002/zjr8-8x75), provincial "
    "generation mix as packaged by CodeCarbon 3.3.2 (2023/canada_energy_mix.json); intensity = fossil shares x "
    "combustion factors (coal 995.7, petroleum 816.7, natural gas 743.8 g/kWh; responsibleproblemsolving/"
    "energy-usage), computed as CodeCarbon does: direct fossil combustion only, NOT lifecycle (hydro, nuclear, "
    "wind, solar and biomass count 0)"
)
# kg CO2/kWh by fuel, exactly as in CodeCarbon 3.3.2 core/emissions.py `_region_energy_mix_to_emissions_rate`
# (source: github.com/responsibleproblemsolving/energy-usage#conversion-to-co2). The order matters for exact
# floating-point reproduction: CodeCarbon sums coal, petroleum, natural gas in this order.
CANADA_FOSSIL_KG_PER_KWH = (("coal", 0.995725971), ("petroleum", 0.8166885263), ("naturalGas", 0.7438415916))
# CodeCarbon's province key -> (ISO 3166-2 code, name, aliases)
CA_PROVINCES = {
    "alberta": ("CA-AB", "Alberta", []),
    "british columbia": ("CA-BC", "British Columbia", []),
    "manitoba": ("CA-MB", "Manitoba", []),
    "new brunswick": ("CA-NB", "New Brunswick", ["Nouveau-Brunswick"]),
    "newfoundland and labrador": ("CA-NL", "Newfoundland and Labrador", ["Newfoundland", "Labrador"]),
    "nova scotia": ("CA-NS", "Nova Scotia", []),
    "northwest territories": ("CA-NT", "Northwest Territories", []),
    "nunavut": ("CA-NU", "Nunavut", []),
    "ontario": ("CA-ON", "Ontario", []),
    "prince edward island": ("CA-PE", "Prince Edward Island", ["PEI"]),
    "quebec": ("CA-QC", "Quebec", ["Québec"]),
    "saskatchewan": ("CA-SK", "Saskatchewan", []),
    "yukon": ("CA-YT", "Yukon", []),
}

NORDIC_SOURCE = (
    "ENTSO-E Transparency actual generation per production type (A75), bidding zone {zone}, full year 2025, "
    "production-based mix x CodeCarbon per-source factors (Khepri v1.3, doi:10.5281/zenodo.22285397), as "
    "packaged by CodeCarbon 3.3.2 (nordic_emissions.json)"
)
NORDIC_FI_SOURCE = (
    "CodeCarbon 3.3.2 nordic_emissions.json, Finland bidding zone: CodeCarbon's prior value kept unchanged "
    "(its primary source is not stated); year as CodeCarbon labels it"
)
# Bidding zones: code -> (country, name, aliases). The Finnish bidding zone covers all of Finland, but its
# figure differs from the country row (OWID, lifecycle), so it has its own code.
NORDIC_ZONES = {
    "SE1": ("SE", "Sweden bidding zone SE1 (Luleå, north)", ["SE-SE1"]),
    "SE2": ("SE", "Sweden bidding zone SE2 (Sundsvall, north-central)", ["SE-SE2"]),
    "SE3": ("SE", "Sweden bidding zone SE3 (Stockholm, south-central)", ["SE-SE3"]),
    "SE4": ("SE", "Sweden bidding zone SE4 (Malmö, south)", ["SE-SE4"]),
    "NO1": ("NO", "Norway bidding zone NO1 (Oslo, east)", ["NO-NO1"]),
    "NO2": ("NO", "Norway bidding zone NO2 (Kristiansand, south-west)", ["NO-NO2"]),
    "NO3": ("NO", "Norway bidding zone NO3 (Trondheim, central)", ["NO-NO3"]),
    "NO4": ("NO", "Norway bidding zone NO4 (Tromsø, north)", ["NO-NO4"]),
    "NO5": ("NO", "Norway bidding zone NO5 (Bergen, west)", ["NO-NO5"]),
    "FI-ZONE": ("FI", "Finland bidding zone FI", ["Finland bidding zone", "bidding zone FI"]),
}
# Bidding zones CodeCarbon has no figure for: known, so that --region and the live zone work, but their annual
# figure is the country's, and the source says so.
NORDIC_ZONES_WITHOUT_FIGURE = {
    "DK1": ("DK", "Denmark bidding zone DK1 (Jutland, Funen; west)", ["DK-DK1"]),
    "DK2": ("DK", "Denmark bidding zone DK2 (Zealand, Copenhagen; east)", ["DK-DK2"]),
}
NORDIC_CODECARBON_KEY = {code: ("FI" if code == "FI-ZONE" else code) for code in NORDIC_ZONES}

CHINA_SOURCE = (
    "Ministry of Ecology and Environment and National Bureau of Statistics of China, Announcement 2025 No. 47, "
    "2023 provincial average electricity CO2 emission factors (Table 3), as packaged by CodeCarbon 3.3.2 "
    "(2023/china_provincial_emissions.json); CO2 only, NOT lifecycle; location-based, inter-provincial "
    "transfers included"
)
# English names CodeCarbon's file gives in `description`; `names` there supplies the aliases.

# ---------------------------------------------------------------------------------------------------
# Implausible country intensities (flagged in the table, kept out of "dirtiest grid" claims).
# Rule: a country's figure is implausible when it exceeds by more than IMPLAUSIBLE_MARGIN the most its own
# generation mix (same OWID record: coal, gas, oil, other fossil, low-carbon TWh) could emit if every source ran at
# the per-fuel factor of CodeCarbon's carbon_intensity_per_source.json (coal 995, petroleum 816, natural gas 743
# g/kWh; low-carbon sources at the biomass factor 230, the highest of them). The margin covers the spread of
# real plants around those factors.
MIX_BOUND_FACTORS_G_PER_KWH = {"coal": 995.0, "oil": 816.0, "gas": 743.0, "other_fossil": 995.0,
                               "low_carbon": 230.0}
IMPLAUSIBLE_MARGIN = 0.20

# ---------------------------------------------------------------------------------------------------
# Time zones that name a sub-national grid (tz database zone.tab comments and the zone's own city). Zones not
# listed here stay at their country; for countries with sub-national grids the note says the zone spans several.
# zone -> (grid code, note or "")
ZONE_SUBDIVISIONS = {
    # Canada
    "America/Toronto": ("CA-ON", "the zone also covers most of Quebec: --region CA-QC there"),
    "Canada/Eastern": ("CA-ON", "the zone also covers most of Quebec: --region CA-QC there"),
    "America/Montreal": ("CA-QC", ""), "America/Blanc-Sablon": ("CA-QC", ""),
    "America/Thunder_Bay": ("CA-ON", ""), "America/Nipigon": ("CA-ON", ""), "America/Rainy_River": ("CA-ON", ""),
    "America/Atikokan": ("CA-ON", ""),
    "America/Winnipeg": ("CA-MB", "the zone also covers western Ontario: --region CA-ON there"),
    "Canada/Central": ("CA-MB", "the zone also covers western Ontario: --region CA-ON there"),
    "America/Regina": ("CA-SK", ""), "America/Swift_Current": ("CA-SK", ""), "Canada/Saskatchewan": ("CA-SK", ""),
    "America/Edmonton": ("CA-AB", "the zone also covers parts of BC, NT and SK"),
    "Canada/Mountain": ("CA-AB", "the zone also covers parts of BC, NT and SK"),
    "America/Vancouver": ("CA-BC", ""), "Canada/Pacific": ("CA-BC", ""), "America/Creston": ("CA-BC", ""),
    "America/Dawson_Creek": ("CA-BC", ""), "America/Fort_Nelson": ("CA-BC", ""),
    "America/Halifax": ("CA-NS", "the zone also covers Prince Edward Island: --region CA-PE there"),
    "Canada/Atlantic": ("CA-NS", "the zone also covers Prince Edward Island: --region CA-PE there"),
    "America/Glace_Bay": ("CA-NS", ""),
    "America/Moncton": ("CA-NB", ""),
    "America/St_Johns": ("CA-NL", ""), "Canada/Newfoundland": ("CA-NL", ""), "America/Goose_Bay": ("CA-NL", ""),
    "America/Whitehorse": ("CA-YT", ""), "America/Dawson": ("CA-YT", ""), "Canada/Yukon": ("CA-YT", ""),
    "America/Inuvik": ("CA-NT", ""), "America/Yellowknife": ("CA-NT", ""),
    "America/Iqaluit": ("CA-NU", ""), "America/Pangnirtung": ("CA-NU", ""), "America/Resolute": ("CA-NU", ""),
    "America/Rankin_Inlet": ("CA-NU", ""), "America/Cambridge_Bay": ("CA-NU", ""),
    # United States: zones that lie in one state
    "America/Phoenix": ("US-AZ", ""), "US/Arizona": ("US-AZ", ""),
    "Pacific/Honolulu": ("US-HI", ""), "US/Hawaii": ("US-HI", ""),
    "America/Anchorage": ("US-AK", ""), "America/Juneau": ("US-AK", ""), "America/Sitka": ("US-AK", ""),
    "America/Metlakatla": ("US-AK", ""), "America/Yakutat": ("US-AK", ""), "America/Nome": ("US-AK", ""),
    "America/Adak": ("US-AK", ""), "US/Alaska": ("US-AK", ""), "US/Aleutian": ("US-AK", ""),
    "America/Detroit": ("US-MI", ""), "US/Michigan": ("US-MI", ""), "America/Menominee": ("US-MI", ""),
    "America/Indiana/Indianapolis": ("US-IN", ""), "America/Indiana/Vincennes": ("US-IN", ""),
    "America/Indiana/Winamac": ("US-IN", ""), "America/Indiana/Marengo": ("US-IN", ""),
    "America/Indiana/Petersburg": ("US-IN", ""), "America/Indiana/Vevay": ("US-IN", ""),
    "America/Indiana/Tell_City": ("US-IN", ""), "America/Indiana/Knox": ("US-IN", ""),
    "America/Indianapolis": ("US-IN", ""), "America/Fort_Wayne": ("US-IN", ""), "America/Knox_IN": ("US-IN", ""),
    "US/East-Indiana": ("US-IN", ""), "US/Indiana-Starke": ("US-IN", ""),
    "America/Kentucky/Louisville": ("US-KY", ""), "America/Kentucky/Monticello": ("US-KY", ""),
    "America/Louisville": ("US-KY", ""),
    "America/North_Dakota/Center": ("US-ND", ""), "America/North_Dakota/New_Salem": ("US-ND", ""),
    "America/North_Dakota/Beulah": ("US-ND", ""),
    "America/Boise": ("US-ID", "the zone also covers eastern Oregon: --region US-OR there"),
    # China: Beijing Time covers the whole country; these zone names name a province
    "Asia/Urumqi": ("CN-XJ", ""), "Asia/Kashgar": ("CN-XJ", ""), "Asia/Harbin": ("CN-HL", ""),
    "Asia/Chongqing": ("CN-CQ", ""), "Asia/Chungking": ("CN-CQ", ""),
}
# What a country-level zone spans, for the note ("the zone spans several US states: --region US-XX ...").
SPANNED = {
    "US": "several US states: --region US-XX for a state's grid",
    "CA": "several provinces: --region CA-XX for a province's grid",
    "CN": "every Chinese province: --region CN-XX for a province's grid",
    "SE": "bidding zones SE1-SE4: --region SE3 (for example) for a zone's grid",
    "NO": "bidding zones NO1-NO5: --region NO1 (for example) for a zone's grid",
    "DK": "bidding zones DK1-DK2 (no annual figure of their own)",
}
